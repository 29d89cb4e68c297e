"""The Faust worker agent, driven through ``agent.test_context()`` with no broker.

The producer's ``send`` is patched (the agent sends through it, and there is no broker); everything
else is real: the app from settings, the spaCy pipeline, the metrics on a fresh registry.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock

import orjson
import pytest
from prometheus_client import CollectorRegistry

from processors import Enricher
from streams.agents import EnrichHandler, build_worker
from streams.models import DeadLetter
from streams.settings import load_settings
from streams.topics import DLQ, ENRICHED, POSTS

RAW_AUTHOR_ID = "t2_raw_author_77"
CANARY = "CANARY-i-took-too-many-of-my-pills"


@dataclass
class Worker:
    agent: Any  # the agent's test wrapper
    handler: EnrichHandler
    registry: CollectorRegistry
    enriched: AsyncMock
    dlq: AsyncMock

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


@pytest.fixture
async def worker(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, free_port: int, enricher: Enricher
) -> AsyncIterator[Worker]:
    settings = load_settings(demo=True, web_port=free_port, cache_dir=tmp_path)
    registry = CollectorRegistry()
    app = build_worker(settings, registry=registry, enricher=enricher)
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    handler: EnrichHandler = app.vigil_handler  # type: ignore[attr-defined]
    enriched, dlq = AsyncMock(name="enriched.send"), AsyncMock(name="dlq.send")
    by_topic = {ENRICHED: enriched, DLQ: dlq}

    async def producer_send(
        topic: str, key: bytes | None, value: bytes | None, partition: Any, timestamp: Any, headers: Any, **_: Any
    ) -> asyncio.Future[None]:
        if topic in by_topic:
            await by_topic[topic](key=key, value=value, headers=headers)
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)  # the broker took it
        return delivered

    app.producer.send = producer_send  # type: ignore[method-assign]
    async with app.agents["vigil.enrich"].test_context() as agent:
        yield Worker(agent, handler, registry, enriched, dlq)


async def sent(worker: Worker, enriched: int = 0, dlq: int = 0, timeout: float = 5.0) -> None:
    """Wait until the batch holding the events put so far has been handled."""
    async with asyncio.timeout(timeout):
        while worker.enriched.await_count < enriched or worker.dlq.await_count < dlq:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # nothing more arrives than expected
    assert (worker.enriched.await_count, worker.dlq.await_count) == (enriched, dlq)


def message(**post: Any) -> bytes:
    return orjson.dumps(post)


async def test_valid_post_is_enriched_and_keyed_by_its_thread(worker: Worker) -> None:
    value = message(
        id="t1_reply",
        thread_id="t3_thread",
        text="switched from Humira to Stelara",
        platform="reddit",
        created_at="2026-11-20T13:05:00Z",
        author={"id": RAW_AUTHOR_ID, "handle": "@someone"},
    )
    await worker.agent.put(value=value, key=b"t3_thread")
    await sent(worker, enriched=1)
    kwargs = worker.enriched.await_args.kwargs
    assert kwargs["key"] == b"t3_thread"
    out = orjson.loads(kwargs["value"])
    assert out["id"] == "t1_reply"
    assert [(d["generic"], d["status"]) for d in out["drugs"]] == [("adalimumab", "past"), ("ustekinumab", "current")]
    assert out["author"]["id"].startswith("p_") and "handle" not in out["author"]
    assert RAW_AUTHOR_ID.encode() not in kwargs["value"] and b"@someone" not in kwargs["value"]
    assert worker.sample("vigil_posts_processed_total", platform="reddit") == 1.0
    assert worker.sample("vigil_drug_mentions_total", drug="adalimumab", status="past") == 1.0
    assert worker.sample("vigil_drug_mentions_total", drug="ustekinumab", status="current") == 1.0
    assert worker.sample("vigil_dead_letters_total", reason="not_json") == 0.0
    assert worker.sample("vigil_enrichment_batch_posts_count") == 1.0
    assert worker.sample("vigil_end_to_end_lag_seconds_count") == 1.0
    assert (worker.sample("vigil_last_processed_timestamp_seconds") or 0) > 0


async def test_post_without_thread_is_keyed_by_its_id(worker: Worker) -> None:
    await worker.agent.put(value=message(id="t3_top", text="hello"), key=None)
    await sent(worker, enriched=1)
    assert worker.enriched.await_args.kwargs["key"] == b"t3_top"


async def test_created_at_defaults_to_the_kafka_timestamp(worker: Worker) -> None:
    stamp = datetime(2026, 11, 20, 13, 5, 7, 123000, tzinfo=UTC)
    await worker.agent.put(value=message(id="1", text="hi"), timestamp=stamp.timestamp())
    await sent(worker, enriched=1)
    assert orjson.loads(worker.enriched.await_args.kwargs["value"])["created_at"] == "2026-11-20T13:05:07.123Z"


async def test_malformed_message_goes_to_the_dlq_with_original_bytes_and_reason(worker: Worker) -> None:
    raw = b'{"id": "1", "text": "unterminated'
    await worker.agent.put(value=raw, key=b"some-key", partition=3)
    await sent(worker, dlq=1)
    kwargs = worker.dlq.await_args.kwargs
    assert kwargs["value"] == raw
    assert kwargs["key"] == b"some-key"
    letter = DeadLetter.from_headers(kwargs["headers"])
    assert (letter.reason, letter.field) == ("not_json", "$")
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (POSTS, 3, 0)
    assert datetime.fromisoformat(letter.failed_at.replace("Z", "+00:00")).tzinfo is not None
    assert worker.sample("vigil_dead_letters_total", reason="not_json") == 1.0
    assert worker.sample("vigil_posts_processed_total", platform="other") == 0.0


async def test_dead_letter_names_the_field_but_not_the_content(worker: Worker) -> None:
    raw = message(id="1", text=CANARY, author={"id": "u", "followers": -4})
    await worker.agent.put(value=raw, key=b"k")
    await sent(worker, dlq=1)
    kwargs = worker.dlq.await_args.kwargs
    assert kwargs["value"] == raw  # replayable once fixed
    letter = DeadLetter.from_headers(kwargs["headers"])
    assert (letter.reason, letter.field) == ("out_of_range", "author.followers")
    assert all(CANARY.encode() not in value for _, value in kwargs["headers"])
    assert worker.sample("vigil_dead_letters_total", reason="out_of_range") == 1.0


async def test_a_batch_keeps_order_and_separates_good_from_bad(worker: Worker) -> None:
    values = [
        message(id="a", text="on Ozempic", platform="x"),
        b"\xff\xfe not utf-8",
        message(id="c", text="never tried Mounjaro", platform="twitter"),
        message(text="no id"),
        message(id="e", text="hi", platform="mastodon"),
    ]
    for value in values:
        await worker.agent.put(value=value, key=None)
    await sent(worker, enriched=3, dlq=2)
    assert [orjson.loads(c.kwargs["value"])["id"] for c in worker.enriched.await_args_list] == ["a", "c", "e"]
    letters = [DeadLetter.from_headers(c.kwargs["headers"]) for c in worker.dlq.await_args_list]
    assert [(d.reason, d.field, d.source_offset) for d in letters] == [("not_utf8", "$", 1), ("missing_field", "id", 3)]
    assert [c.kwargs["value"] for c in worker.dlq.await_args_list] == [values[1], values[3]]
    assert worker.sample("vigil_posts_processed_total", platform="x") == 2.0
    assert worker.sample("vigil_posts_processed_total", platform="other") == 1.0
    assert worker.sample("vigil_drug_mentions_total", drug="semaglutide", status="current") == 1.0
    assert worker.sample("vigil_drug_mentions_total", drug="tirzepatide", status="negated") == 1.0
    assert worker.sample("vigil_dead_letters_total", reason="not_utf8") == 1.0
    assert worker.sample("vigil_dead_letters_total", reason="missing_field") == 1.0


async def test_an_empty_value_is_dead_lettered_not_crashing_the_worker(worker: Worker) -> None:
    await worker.agent.put(value=b"", key=b"tombstone")
    await worker.agent.put(value=message(id="after", text="still running"), key=None)
    await sent(worker, enriched=1, dlq=1)
    assert DeadLetter.from_headers(worker.dlq.await_args.kwargs["headers"]).reason == "not_json"
    assert orjson.loads(worker.enriched.await_args.kwargs["value"])["id"] == "after"
