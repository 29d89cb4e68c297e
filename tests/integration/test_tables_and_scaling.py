"""Windowed tables survive a restart (equal to a recount), and workers scale out without loss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry
from vigil_ingest import run_ingest

from processors.aggregation import segment_keys, split_key
from streams.metrics import VigilMetrics
from streams.settings import load_settings
from streams.topics import ENRICHED, POSTS

SAMPLE = Path(__file__).resolve().parents[2] / "streams" / "data" / "sample_posts.jsonl"


def _posts(tag: str, n: int) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = []
    for i in range(n):
        post = dict(rows[i % len(rows)])
        post["id"] = f"{tag}-{i}"
        post["thread_id"] = f"{tag}-t{i % 40}"
        out.append(post)
    return out


def _ingest(kafka: str, path: Path, posts: list[dict[str, Any]], rate: float = 0.0) -> None:
    path.write_text("\n".join(json.dumps(p) for p in posts) + "\n")
    run_ingest(kafka, path, timeout=300, rate=rate)


def _records(kafka: str, topic: str, tag: str, want: int, timeout: float = 180.0) -> list[Any]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=kafka, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    needle = f'"{tag}-'.encode()
    try:
        while time.monotonic() < deadline and len({json.loads(r.value)["id"] for r in found}) < want:
            for batch in consumer.poll(timeout_ms=500).values():
                found.extend(r for r in batch if needle in r.value[:120])
    finally:
        consumer.close()
    return found


def _start_at_end(kafka: str, group: str) -> None:
    """Commit the current end of vigil.posts for ``group``: its worker sees only posts sent after."""
    consumer = KafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(POSTS, p) for p in consumer.partitions_for_topic(POSTS) or ()]
        assert partitions, f"{POSTS} has no partitions"
        consumer.commit({tp: OffsetAndMetadata(end, "", -1) for tp, end in consumer.end_offsets(partitions).items()})
    finally:
        consumer.close()


def _aggregates(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/aggregates", timeout=10) as response:
        return json.loads(response.read())


def _mine(snapshot: dict[str, Any], windows: set[str]) -> Counter[tuple[str, ...]]:
    return Counter(
        {
            (row["window_start"], row["drug"], row["stage"], row["audience"], row["platform"]): row["posts"]
            for row in snapshot["segments_1m"]
            if row["window_start"] in windows
        }
    )


def test_tables_recover_from_their_changelog_and_equal_a_recount(
    kafka: str, worker_factory: Callable[..., Any], group_factory: Callable[..., str], tmp_path: Path
) -> None:
    # A topic of our own would not do (Vigil's names are fixed), so we tag posts and only count
    # windows in which every post is ours: posts are sent in the same minutes, nothing else runs,
    # and the worker starts at the end of vigil.posts (an earlier test's posts may share a minute).
    tag = uuid.uuid4().hex[:8]
    posts = _posts(tag, 600)
    app_id = group_factory("vigil-tables")
    _start_at_end(kafka, app_id)
    worker = worker_factory(app_id=app_id)
    _ingest(kafka, tmp_path / "posts.jsonl", posts)
    enriched = {json.loads(r.value)["id"]: json.loads(r.value) for r in _records(kafka, ENRICHED, tag, len(posts))}
    assert len(enriched) == len(posts)
    inputs = {json.loads(r.value)["id"]: r for r in _records(kafka, POSTS, tag, len(posts))}

    settings = load_settings(demo=True)
    labels = VigilMetrics(CollectorRegistry(), settings.watch_list)
    recount: Counter[tuple[str, ...]] = Counter()
    windows: set[str] = set()
    for post_id, post in enriched.items():
        minute = int(inputs[post_id].timestamp / 1000 // 60) * 60
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute))
        windows.add(start)
        for key in segment_keys(post, labels.drug_label, VigilMetrics.platform_label):
            recount[(start, *split_key(key))] += 1

    time.sleep(3)  # the last batch's table updates
    before = _mine(_aggregates(worker.web_port), windows)
    assert before == recount, "the live tables equal a recount of the enriched posts"

    worker.stop()
    # A new worker, same app id, empty state directory: everything must come from the changelog.
    restarted = worker_factory(app_id=app_id, data_dir=str(tmp_path / "fresh-state"))
    deadline = time.monotonic() + 120
    after: Counter[tuple[str, ...]] = Counter()
    while time.monotonic() < deadline:
        after = _mine(_aggregates(restarted.web_port), windows)
        if after == recount:
            break
        time.sleep(1)
    assert after == recount, "after a restart from an empty state directory the tables equal the recount"


def test_a_second_worker_joins_mid_stream_and_nothing_is_lost(
    kafka: str,
    worker_factory: Callable[..., Any],
    group_factory: Callable[..., str],
    tmp_path: Path,
    record_property: Callable[[str, Any], None],
) -> None:
    tag = uuid.uuid4().hex[:8]
    posts = _posts(tag, 3000)
    app_id = group_factory("vigil-scale")
    first = worker_factory(app_id=app_id)
    # Paced so the second worker joins while posts are still arriving.
    (tmp_path / "posts.jsonl").write_text("\n".join(json.dumps(p) for p in posts) + "\n")
    ingest = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streams",
            "ingest",
            "--input",
            str(tmp_path / "posts.jsonl"),
            "--no-progress",
            "--rate",
            "300",
        ],
        env={**os.environ, "VIGIL_KAFKA_BOOTSTRAP": kafka},
    )
    time.sleep(3)
    second = worker_factory(app_id=app_id)
    assert ingest.wait(timeout=300) == 0
    records = _records(kafka, ENRICHED, tag, len(posts), timeout=300)
    ids = Counter(json.loads(r.value)["id"] for r in records)
    assert set(ids) == {p["id"] for p in posts}, f"every post enriched ({len(posts) - len(ids)} missing)"
    duplicates = sum(n - 1 for n in ids.values())
    processed = [w.sample("vigil_posts_processed_total", platform="reddit") for w in (first, second)]
    print(f"\n2 workers, 4 partitions, second joined mid-stream: {len(posts)} in, {len(ids)} enriched, "
          f"0 lost, {duplicates} duplicated after the rebalance; per worker (reddit only) {processed}")  # fmt: skip
    record_property("duplicates_after_rebalance", duplicates)
    assert first.alive() and second.alive()
