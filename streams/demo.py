"""``vigil demo``: a local Kafka broker, a worker, the bundled sample stream and a live summary.

Everything runs on 127.0.0.1 and stops when the demo ends (or on Ctrl-C). A broker already
answering at ``VIGIL_KAFKA_BOOTSTRAP`` is used as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.exceptions import KafkaRuntimeError
from streams.ingest import message_key
from streams.kafka_clients import aiokafka_config
from streams.localkafka import LocalKafka, probe
from streams.settings import Settings
from streams.topics import DLQ, ENRICHED, POSTS, create_topics

__all__ = ["DemoSummary", "run_demo", "sample_posts"]

#: Malformed messages mixed into the demo stream so the dead-letter path is visible.
_MALFORMED = (
    b'{"id": "demo-bad-1", "text": ',
    b'{"text": "a post without an id"}',
    b'{"id": "demo-bad-3", "text": 42}',
)


def sample_posts() -> list[bytes]:
    """The bundled sample stream, one JSON post per item (package data)."""
    data = importlib.resources.files("streams") / "data" / "sample_posts.jsonl"
    return [line for line in data.read_bytes().splitlines() if line.strip()]


@dataclass
class DemoSummary:
    """What the demo has seen so far."""

    sent: int = 0
    enriched: int = 0
    dead: int = 0
    latencies: list[float] = field(default_factory=list)
    drugs: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    platforms: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def add_enriched(self, post: dict[str, Any], latency: float) -> None:
        self.enriched += 1
        self.latencies.append(latency)
        self.platforms[post.get("platform") or "unknown"] += 1
        for mention in post.get("drugs", ()):
            self.drugs[mention["generic"]] += 1
            self.statuses[mention["status"]] += 1

    def render(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        lat = sorted(self.latencies)
        p50 = lat[len(lat) // 2] * 1000 if lat else 0.0
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0
        top = ", ".join(f"{name} {n}" for name, n in self.drugs.most_common(8)) or "-"
        lines = [
            "Vigil demo: sample posts -> vigil.posts -> worker -> vigil.posts.enriched",
            f"  elapsed {elapsed:6.1f} s   sent {self.sent}   enriched {self.enriched}   dead-lettered {self.dead}",
            f"  latency produce->enriched  p50 {p50:.0f} ms  p99 {p99:.0f} ms   ({self.enriched / elapsed:.0f} posts/s)",
            f"  top drugs: {top}",
            "  mention status: " + (", ".join(f"{k} {v}" for k, v in self.statuses.most_common()) or "-"),
            "  platforms: " + (", ".join(f"{k} {v}" for k, v in self.platforms.most_common()) or "-"),
            "  dead letters: " + (", ".join(f"{k} {v}" for k, v in self.reasons.most_common()) or "-"),
        ]
        return "\n".join(lines)


def _ensure_broker(settings: Settings) -> LocalKafka | None:
    first = settings.kafka_bootstrap.split(",")[0]
    if probe(first, timeout=2.0) is None:
        print(f"using the Kafka broker at {first}", file=sys.stderr)
        return None
    host, _, port = first.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise KafkaRuntimeError(f"no Kafka answers at {first}; the demo only starts a local broker on 127.0.0.1")
    kafka = LocalKafka(port=int(port), controller_port=int(port) + 1)
    print(f"starting a local Kafka broker on {kafka.bootstrap} (first run fetches its jars) ...", file=sys.stderr)
    kafka.start()
    return kafka


def _start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VIGIL_DEMO": "1", "VIGIL_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    log = open(settings.cache_dir / "demo-worker.log", "wb")  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        [sys.executable, "-m", "streams", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_for_worker(settings: Settings, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    url = f"http://{settings.web_host}:{settings.web_port}/metrics"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise KafkaRuntimeError(
                f"the worker exited with code {proc.returncode}; see {settings.cache_dir / 'demo-worker.log'}"
            )
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.5)
    raise KafkaRuntimeError(f"the worker did not answer on {url} within {timeout:.0f} s")


async def _produce(settings: Settings, posts: list[bytes], rate: float, summary: DemoSummary) -> None:
    producer = AIOKafkaProducer(**aiokafka_config(settings), acks="all", linger_ms=5)
    await producer.start()
    try:
        start = time.monotonic()
        for i, value in enumerate(posts):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await producer.send(POSTS, value=value, key=message_key(value))
            summary.sent += 1
        await producer.flush()
    finally:
        await producer.stop()


async def _consume(settings: Settings, summary: DemoSummary, done: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        ENRICHED, DLQ, **aiokafka_config(settings), enable_auto_commit=False, auto_offset_reset="latest"
    )
    await consumer.start()
    try:
        await consumer.seek_to_end()
        while not done.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            for tp, records in batches.items():
                for record in records:
                    if tp.topic == DLQ:
                        summary.dead += 1
                        headers = dict(record.headers or ())
                        summary.reasons[headers.get("vigil.dlq.reason", b"?").decode()] += 1
                    else:
                        summary.add_enriched(orjson.loads(record.value), time.time() - record.timestamp / 1000)
    finally:
        await consumer.stop()


async def _run(settings: Settings, posts: list[bytes], rate: float) -> DemoSummary:
    summary = DemoSummary()
    done = asyncio.Event()
    consumer = asyncio.create_task(_consume(settings, summary, done))
    await asyncio.sleep(1.0)  # let the consumer seek before the first post goes out
    producer = asyncio.create_task(_produce(settings, posts, rate, summary))
    tty = sys.stdout.isatty()
    last_change, seen = time.monotonic(), -1
    while True:
        await asyncio.sleep(1.0)
        print(("\x1b[H\x1b[2J" if tty else "") + summary.render() + ("" if tty else "\n"), flush=True)
        total = summary.enriched + summary.dead
        if total != seen:
            last_change, seen = time.monotonic(), total
        if producer.done() and (total >= summary.sent or time.monotonic() - last_change > 30):
            break
    done.set()
    await producer
    await consumer
    return summary


def run_demo(settings: Settings, *, rate: float = 40.0, loops: int = 1) -> DemoSummary:
    """Run the demo end to end and print the final summary.

    Args:
        settings: Settings with ``demo`` on.
        rate: Sample posts per second.
        loops: How many times the sample stream is replayed.
    """
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    posts = sample_posts()
    stream = [*posts[:40], _MALFORMED[0], *posts[40:120], _MALFORMED[1], *posts[120:], _MALFORMED[2]] * loops
    kafka = _ensure_broker(settings)
    worker: subprocess.Popen[bytes] | None = None
    try:
        for name, partitions, created in create_topics(settings):
            print(f"topic {name}: {partitions} partition(s){' (created)' if created else ''}", file=sys.stderr)
        print("starting the worker (loading the drug lexicon) ...", file=sys.stderr)
        worker = _start_worker(settings)
        _wait_for_worker(settings, worker)
        summary = asyncio.run(_run(settings, stream, rate))
        print("\ndemo finished:\n" + summary.render())
        lost = summary.sent - summary.enriched - summary.dead
        print(f"  posts unaccounted for: {lost}")
        return summary
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        if kafka is not None:
            kafka.stop()
