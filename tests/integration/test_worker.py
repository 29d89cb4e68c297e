"""The vertical slice on a real broker: `vigil ingest` -> `vigil worker` -> enriched topic + DLQ."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaConsumer
from vigil_ingest import run_ingest

from streams.models import DeadLetter
from streams.topics import DLQ, ENRICHED

SAMPLE = Path(__file__).resolve().parents[2] / "streams" / "data" / "sample_posts.jsonl"


def _valid_posts(tag: str, n: int) -> list[dict]:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    posts = []
    for i in range(n):
        post = dict(rows[i % len(rows)])
        post["id"] = f"{tag}-{i}"
        post["thread_id"] = f"{tag}-thread-{i % 17}"
        post["x_unknown_field"] = {"kept": True}
        posts.append(post)
    return posts


def _malformed(tag: str) -> dict[str, bytes]:
    """One message per kind of bad input, each carrying the test tag so it can be found again."""
    return {
        "not_json": f'{{"id": "{tag}-bad-json", "text": '.encode(),
        "missing_field": json.dumps({"text": f"{tag} has no id"}).encode(),
        "wrong_type": json.dumps({"id": f"{tag}-bad-text", "text": 12345}).encode(),
        "too_large": json.dumps({"id": f"{tag}-huge", "text": "x" * 1_100_000}).encode(),
        "not_utf8": f'{{"id": "{tag}-latin1", "text": "caf'.encode() + b"\xe9\xff" + b'"}',
    }


def _consume_until(kafka: str, topics: list[str], done: Callable[[list], bool], timeout: float = 90.0) -> list:
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=1000,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    records: list = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not done(records):
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def test_valid_posts_are_enriched_exactly_once_and_malformed_ones_dead_lettered(
    kafka: str, worker_factory: Callable[..., object], tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:10]
    posts = _valid_posts(tag, 250)
    bad = _malformed(tag)
    lines = [json.dumps(p).encode() for p in posts]
    # Malformed lines are spread through the file, as they would arrive in a real feed.
    for i, value in enumerate(bad.values()):
        lines.insert(40 * (i + 1), value)
    path = tmp_path / "posts.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    worker = worker_factory()
    ingest = run_ingest(kafka, path)
    assert f"sent {len(lines)}, failed 0" in ingest.stderr

    def mine(records: list) -> tuple[list, list]:
        enriched = [r for r in records if r.topic == ENRICHED and tag.encode() in r.value[:200]]
        dead = [r for r in records if r.topic == DLQ and tag.encode() in r.value[:200]]
        return enriched, dead

    wanted = {p["id"] for p in posts}

    def complete(records: list) -> bool:
        enriched, dead = mine(records)
        return {json.loads(r.value)["id"] for r in enriched} >= wanted and len(dead) >= len(bad)

    records = _consume_until(kafka, [ENRICHED, DLQ], complete)
    time.sleep(2)
    records += _consume_until(kafka, [ENRICHED, DLQ], lambda rs: False, timeout=3)  # and a duplicate, if any
    records = list({(r.topic, r.partition, r.offset): r for r in records}.values())
    enriched, dead = mine(records)

    ids = Counter(json.loads(r.value)["id"] for r in enriched)
    assert set(ids) == wanted, f"every valid post is enriched (missing {len(wanted - set(ids))})"
    assert max(ids.values()) == 1, f"and exactly once ({sum(v > 1 for v in ids.values())} duplicated)"
    by_id = {json.loads(r.value)["id"]: (r, json.loads(r.value)) for r in enriched}
    for post in posts:
        record, out = by_id[post["id"]]
        assert record.key == post["thread_id"].encode(), "keyed by thread so a conversation stays on one partition"
        assert out["text"] == post["text"] and out["x_unknown_field"] == {"kept": True}
        assert {"drugs", "enriched_at", "pipeline_version"} <= out.keys()
        assert "handle" not in out["author"] and out["author"]["id"] != post["author"]["id"]
        assert out["author"]["id"].startswith("p_")
        for mention in out["drugs"]:
            assert out["text"][mention["start"] : mention["end"]] == mention["text"]
    assert sum(len(out["drugs"]) for _, out in by_id.values()) > 100, "the sample stream mentions drugs"

    assert len(dead) == len(bad)
    letters = {DeadLetter.from_headers(r.headers).reason: (r, DeadLetter.from_headers(r.headers)) for r in dead}
    assert set(letters) == set(bad), "each malformed message is dead-lettered with its own reason"
    for reason, (record, letter) in letters.items():
        assert record.value == bad[reason], "the dead letter holds the original bytes"
        assert letter.source_topic == "vigil.posts" and letter.source_offset >= 0
        assert letter.error, "with a readable error"
        assert "xxxxxxxxxx" not in letter.error and "caf" not in letter.error, "and never the post content"

    assert worker.alive(), "the worker keeps running after bad input"
    assert worker.sample("vigil_dead_letters_total", reason="too_large") >= 1
    assert worker.sample("vigil_posts_processed_total", platform="reddit") >= 1
