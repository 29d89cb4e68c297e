"""``vigil ingest``: send a JSONL or CSV file of posts to ``vigil.posts``.

Lines go to Kafka unchanged (the worker validates and dead-letters), keyed by ``thread_id`` else
``id`` when the line parses, so a conversation stays on one partition. CSV rows become post objects
(``author_*`` and engagement columns nest under ``author`` / ``engagement``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streams.exceptions import KafkaRuntimeError, VigilError
from streams.kafka_clients import aiokafka_config, unreachable
from streams.settings import Settings
from streams.topics import POSTS, TOPIC_MAX_MESSAGE_BYTES

__all__ = ["IngestCounts", "csv_rows", "ingest_file", "message_key"]

_AUTHOR = {
    "author_id": "id",
    "author_handle": "handle",
    "author_followers": "followers",
    "author_verified": "verified",
    "author_bio": "bio",
}
_ENGAGEMENT = ("views", "likes", "replies", "shares")


@dataclass
class IngestCounts:
    """What happened to the lines of one file."""

    sent: int = 0
    failed: int = 0
    blank: int = 0


def message_key(value: bytes) -> bytes | None:
    """``thread_id`` else ``id`` of a JSON post, or ``None`` when the line does not parse."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    key = obj.get("thread_id") or obj.get("id")
    return key.encode() if isinstance(key, str) and key else None


def _number(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        return value  # left as text: the worker dead-letters it with the field named


def csv_rows(stream: io.TextIOBase) -> Iterator[bytes]:
    """Posts from a CSV file with a header row, as JSON bytes."""
    for row in csv.DictReader(stream):
        post: dict[str, Any] = {}
        author: dict[str, Any] = {}
        engagement: dict[str, Any] = {}
        for column, value in row.items():
            if column is None or value is None or value == "":
                continue
            if column in _AUTHOR:
                name = _AUTHOR[column]
                if name == "followers":
                    author[name] = _number(value)
                elif name == "verified":
                    author[name] = value.strip().lower() in ("true", "1", "yes")
                else:
                    author[name] = value
            elif column in _ENGAGEMENT:
                engagement[column] = _number(value)
            else:
                post[column] = value
        if author:
            post["author"] = author
        if engagement:
            post["engagement"] = engagement
        yield orjson.dumps(post)


def _lines(path: str, fmt: str, counts: IngestCounts) -> Iterator[bytes]:
    if fmt == "csv":
        handle = sys.stdin if path == "-" else open(path, encoding="utf-8", newline="")  # noqa: SIM115
        with handle:
            yield from csv_rows(handle)
        return
    binary = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    with binary:
        for line in binary:
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line
            else:
                counts.blank += 1


async def _send_all(
    settings: Settings, lines: Iterator[bytes], topic: str, rate: float, progress: bool, counts: IngestCounts
) -> None:
    from tqdm import tqdm

    producer = AIOKafkaProducer(
        **aiokafka_config(settings),
        acks="all",
        linger_ms=settings.producer_linger_ms,
        max_batch_size=settings.producer_batch_bytes,
        max_request_size=TOPIC_MAX_MESSAGE_BYTES + 1024,
        enable_idempotence=True,
    )
    try:
        await producer.start()
    except KafkaError as exc:
        await producer.stop()
        raise KafkaRuntimeError(unreachable(settings, exc)) from exc
    bar = tqdm(unit=" posts", disable=not progress, file=sys.stderr, mininterval=0.5)
    started = time.monotonic()
    pending: list[asyncio.Future[Any]] = []

    async def settle() -> None:
        for future in pending:
            try:
                await future
                counts.sent += 1
            except KafkaError:
                counts.failed += 1
        bar.update(len(pending))
        pending.clear()

    try:
        for i, value in enumerate(lines):
            if rate > 0:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await settle()
                    await asyncio.sleep(delay)
            try:
                pending.append(await producer.send(topic, value=value, key=message_key(value)))
            except KafkaError:
                counts.failed += 1
            if len(pending) >= 5000:
                await settle()
        await producer.flush()
        await settle()
    finally:
        bar.close()
        await producer.stop()


def ingest_file(
    settings: Settings,
    path: str,
    *,
    fmt: str = "jsonl",
    topic: str | None = None,
    rate: float = 0.0,
    progress: bool = True,
) -> IngestCounts:
    """Send every non-blank line (or CSV row) of ``path`` to ``topic`` (default ``vigil.posts``).

    Args:
        settings: Broker list and producer tuning.
        path: File path, or ``-`` for stdin.
        fmt: ``jsonl`` or ``csv``.
        topic: Target topic.
        rate: Posts per second; 0 sends as fast as the broker takes them.
        progress: Show a progress bar on stderr.
    """
    counts = IngestCounts()
    try:
        asyncio.run(_send_all(settings, _lines(path, fmt, counts), topic or POSTS, rate, progress, counts))
    except OSError as exc:
        raise VigilError(f"cannot read {path}: {exc}") from exc
    return counts
