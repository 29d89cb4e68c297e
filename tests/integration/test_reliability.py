"""Nothing is lost when things break: a worker killed with SIGKILL, a broker that goes away, a burst.

Each scenario prints one line of figures (``VIGIL-FIGURES {...}``: posts in, enriched, dead-lettered,
lost, duplicated, peak RSS), records them as test properties, and appends them to the JSON-lines file
named by ``VIGIL_FIGURES_FILE`` when set (``bench/soak.py`` reads it). The default run uses smaller
volumes; ``-m soak`` runs the full ones (20,000 posts per crash, a 100,000-post burst).

The session's topics are shared with other tests, so every test tags its post ids with a fresh
uuid, reads only what the topics receive after it starts, and lets each new consumer group start
at the end of ``vigil.posts``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, KafkaAdminClient
from kafka.structs import OffsetAndMetadata
from vigil_ingest import run_ingest

from streams.localkafka import LocalKafka
from streams.models import DeadLetter
from streams.topics import DLQ, ENRICHED, POSTS, TOPIC_MAX_MESSAGE_BYTES

SAMPLE = Path(__file__).resolve().parents[2] / "streams" / "data" / "sample_posts.jsonl"
KILL_POSTS, KILL_POSTS_SOAK = 5_000, 20_000
BURST_POSTS = 100_000
#: Peak RSS allowed for a worker through the burst (MiB).
BURST_RSS_BUDGET_MB = 1024  # measured ~500 MiB (idle ~320 MiB) on a 2-core machine
#: A bad line every this many posts, so crashes are also tested on the dead-letter path.
BAD_EVERY = 500


@pytest.fixture(autouse=True)
def _compiled_lexicon(nlp: object) -> None:
    """Build the lexicon and segment model into the session cache before any worker starts.

    Workers load them from ``VIGIL_CACHE_DIR``; building them inside a worker (after a change to
    the curation files) takes longer than a worker is given to serve ``/metrics``.
    """


# --- helpers -------------------------------------------------------------------------------------


@dataclass
class Figures:
    """What went in and what came out, for one scenario."""

    scenario: str
    posts_in: int = 0  #: lines ingested, valid and malformed
    valid_in: int = 0
    enriched: int = 0  #: distinct valid posts found in vigil.posts.enriched
    dead_lettered: int = 0  #: distinct malformed lines found in vigil.posts.dlq
    lost: int = 0  #: valid posts never enriched + malformed lines never dead-lettered
    duplicated: int = 0  #: extra copies in the output topics
    peak_rss_mb: float | None = None
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    def report(self, record_property: Callable[[str, object], None]) -> None:
        line = json.dumps(asdict(self))
        print(f"\nVIGIL-FIGURES {line}", flush=True)
        for name, value in asdict(self).items():
            record_property(name, value)
        target = os.environ.get("VIGIL_FIGURES_FILE")
        if target:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")


def _sample_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_posts(path: Path, tag: str, count: int, *, start: int = 0, bad_every: int = BAD_EVERY) -> tuple[int, int]:
    """Write ``count`` lines (sample posts with ids ``<tag>-<i>``, every ``bad_every``-th line malformed).

    Returns:
        (valid posts, malformed lines) written.
    """
    rows = _sample_rows()
    valid = bad = 0
    with path.open("wb") as fh:
        for i in range(start, start + count):
            if bad_every and i % bad_every == bad_every - 1:
                fh.write(f'{{"id": "{tag}-bad-{i}", "text": "unterminated\n'.encode())
                bad += 1
                continue
            post = dict(rows[i % len(rows)])
            post["id"] = f"{tag}-{i}"
            post["thread_id"] = f"{tag}-thread-{i % 97}"
            fh.write(json.dumps(post).encode() + b"\n")
            valid += 1
    return valid, bad


def start_group_at_end(bootstrap: str, group: str, topic: str = POSTS) -> None:
    """Commit the current end of ``topic`` for ``group``: a worker in that group skips older posts."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        assert partitions, f"{topic} has no partitions"
        ends = consumer.end_offsets(partitions)
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in ends.items()})
    finally:
        consumer.close()


class Outputs:
    """This test's records in vigil.posts.enriched and vigil.posts.dlq, read as they arrive."""

    def __init__(self, bootstrap: str, tag: str, *, committed_only: bool = False, from_start: bool = False) -> None:
        self.tag = tag.encode()
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed" if committed_only else "read_uncommitted",
            max_partition_fetch_bytes=16 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        partitions = [
            TopicPartition(t, p) for t in (ENRICHED, DLQ) for p in self.consumer.partitions_for_topic(t) or ()
        ]
        assert partitions
        self.consumer.assign(partitions)
        if from_start:
            self.consumer.seek_to_beginning(*partitions)
        else:
            for tp, offset in self.consumer.end_offsets(partitions).items():
                self.consumer.seek(tp, offset)
        self.enriched: Counter[str] = Counter()
        self.dead: Counter[str] = Counter()

    def poll(self, timeout_ms: int = 500) -> int:
        """Read what has arrived; returns the number of this test's records read."""
        mine = 0
        for batch in self.consumer.poll(timeout_ms=timeout_ms).values():
            for record in batch:
                if self.tag not in record.value[:120]:
                    continue
                mine += 1
                if record.topic == ENRICHED:
                    self.enriched[json.loads(record.value)["id"]] += 1
                else:
                    letter = DeadLetter.from_headers(record.headers)
                    self.dead[f"{letter.source_partition}:{letter.source_offset}"] += 1
        return mine

    def until(self, done: Callable[[Outputs], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            if done(self):
                return True
        return False

    def settle(self, quiet: float = 5.0, timeout: float = 60.0) -> None:
        """Keep reading until nothing of ours arrived for ``quiet`` seconds (late duplicates)."""
        last, deadline = time.monotonic(), time.monotonic() + timeout
        while time.monotonic() - last < quiet and time.monotonic() < deadline:
            if self.poll():
                last = time.monotonic()

    def complete(self, valid: int, bad: int) -> bool:
        return len(self.enriched) >= valid and len(self.dead) >= bad

    def figures(self, scenario: str, valid: int, bad: int, started: float) -> Figures:
        return Figures(
            scenario=scenario,
            posts_in=valid + bad,
            valid_in=valid,
            enriched=len(self.enriched),
            dead_lettered=len(self.dead),
            lost=(valid - len(self.enriched)) + (bad - len(self.dead)),
            duplicated=sum(self.enriched.values()) - len(self.enriched) + sum(self.dead.values()) - len(self.dead),
            seconds=round(time.monotonic() - started, 1),
            notes={
                "duplicated_enriched": sum(self.enriched.values()) - len(self.enriched),
                "duplicated_dead_letters": sum(self.dead.values()) - len(self.dead),
            },
        )

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def outputs_factory() -> Iterator[Callable[..., Outputs]]:
    made: list[Outputs] = []

    def make(bootstrap: str, tag: str, **options: bool) -> Outputs:
        made.append(Outputs(bootstrap, tag, **options))
        return made[-1]

    yield make
    for outputs in made:
        outputs.close()


def processed(worker: Any) -> float:
    """Posts the worker has enriched so far (``vigil_posts_processed_total`` over all labels)."""
    try:
        text = worker.metrics()
    except OSError:
        return 0.0
    return sum(float(m[1]) for m in re.finditer(r"^vigil_posts_processed_total\{[^}]*\} (\S+)$", text, re.M))


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) / 1024  # type: ignore[index]


# --- (a, b) SIGKILL mid-stream ---------------------------------------------------------------------


def _kill_and_resume(
    scenario: str,
    count: int,
    kafka: str,
    worker_factory: Callable[..., Any],
    outputs_factory: Callable[..., Outputs],
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    **settings: str,
) -> Figures:
    tag = uuid.uuid4().hex[:10]
    app_id = f"vigil-kill-{tag}"
    data_dir = str(tmp_path / "worker-state")  # the restarted worker reopens the killed one's RocksDB
    start_group_at_end(kafka, app_id)
    exactly_once = settings.get("processing_guarantee") == "exactly_once"
    outputs = outputs_factory(kafka, tag, committed_only=exactly_once)
    path = tmp_path / "posts.jsonl"
    valid, bad = write_posts(path, tag, count)
    run_ingest(kafka, path, timeout=600)
    started = time.monotonic()

    first = worker_factory(app_id=app_id, data_dir=data_dir, **settings)
    # Kill once a fifth of the posts has come out: mid-stream, with batches in flight.
    assert outputs.until(lambda o: len(o.enriched) >= valid // 5, timeout=600), "the first worker produced output"
    first.kill()
    at_kill = len(outputs.enriched)
    outputs.settle(quiet=2.0)  # what the killed worker had sent (committed, under exactly-once)
    before_restart = set(outputs.enriched) | {f"dlq:{k}" for k in outputs.dead}
    assert at_kill < valid, f"the first worker finished all {valid} posts before the kill: raise the count"

    second = worker_factory(app_id=app_id, data_dir=data_dir, **settings)
    outputs.until(lambda o: o.complete(valid, bad), timeout=900)
    outputs.settle()
    figures = outputs.figures(scenario, valid, bad, started)
    figures.peak_rss_mb = round(peak_rss_mb(second.proc.pid), 1)
    repeated = [k for k, n in outputs.enriched.items() if n > 1] + [
        f"dlq:{k}" for k, n in outputs.dead.items() if n > 1
    ]
    figures.notes |= {
        # A copy from the killed worker sent again by the new one, or both copies from the new one.
        "duplicated_across_the_kill": sum(k in before_restart for k in repeated),
        "duplicated_after_restart_only": sum(k not in before_restart for k in repeated),
        "enriched_before_kill": at_kill,
        "guarantee": settings.get("processing_guarantee", "at_least_once"),
    }
    second.stop()
    figures.report(record_property)
    return figures


SIZES = [KILL_POSTS, pytest.param(KILL_POSTS_SOAK, marks=[pytest.mark.soak, pytest.mark.timeout(1800)])]
SIZE_IDS = ["5k", "20k"]


@pytest.mark.parametrize("count", SIZES, ids=SIZE_IDS)
def test_sigkill_mid_stream_loses_nothing(
    count: int,
    kafka: str,
    worker_factory: Callable[..., Any],
    outputs_factory: Callable[..., Outputs],
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    figures = _kill_and_resume(
        f"sigkill-{count // 1000}k", count, kafka, worker_factory, outputs_factory, tmp_path, record_property
    )
    assert figures.lost == 0, figures
    assert figures.enriched == figures.valid_in


# Kept out of the default run for time: even 5k takes ~100 s, most of it the restarted worker
# waiting out the killed one's 60 s consumer-group session.
@pytest.mark.soak
@pytest.mark.parametrize("count", SIZES, ids=SIZE_IDS)
def test_exactly_once_sigkill_gives_no_duplicates_to_a_read_committed_reader(
    count: int,
    kafka: str,
    worker_factory: Callable[..., Any],
    outputs_factory: Callable[..., Outputs],
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    figures = _kill_and_resume(
        f"exactly-once-sigkill-{count // 1000}k", count, kafka, worker_factory, outputs_factory, tmp_path,
        record_property, processing_guarantee="exactly_once",
    )  # fmt: skip
    assert figures.lost == 0, figures
    assert figures.enriched == figures.valid_in
    assert figures.duplicated == 0, figures


# --- (c) the broker goes away and comes back ------------------------------------------------------


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_worker_resumes_after_a_broker_restart(
    how: str,
    broker_ports: tuple[int, int],
    worker_factory: Callable[..., Any],
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    port, controller_port = broker_ports
    broker = LocalKafka(port, controller_port, tmp_path / "kafka", heap="512m")
    broker.start()
    outputs: Outputs | None = None
    try:
        env = {**os.environ, "VIGIL_KAFKA_BOOTSTRAP": broker.bootstrap}
        done = subprocess.run(
            [sys.executable, "-m", "streams", "topics", "create", "--partitions", "4"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        tag = uuid.uuid4().hex[:10]
        worker = worker_factory(kafka_bootstrap=broker.bootstrap)
        started = time.monotonic()
        before, after = tmp_path / "before.jsonl", tmp_path / "after.jsonl"
        valid_1, bad_1 = write_posts(before, tag, 3000)
        valid_2, bad_2 = write_posts(after, tag, 1000, start=3000)
        run_ingest(broker.bootstrap, before, timeout=600)
        deadline = time.monotonic() + 300
        while processed(worker) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        at_outage = processed(worker)
        assert at_outage > 0, "the worker produced output before the outage"

        broker.kill() if how == "kill" else broker.stop()
        time.sleep(10)  # the worker runs without a broker for a while
        assert worker.alive(), "the worker does not exit while the broker is away"
        broker.start()
        run_ingest(broker.bootstrap, after, timeout=600)

        outputs = Outputs(broker.bootstrap, tag, from_start=True)
        valid, bad = valid_1 + valid_2, bad_1 + bad_2
        outputs.until(lambda o: o.complete(valid, bad), timeout=600)
        outputs.settle()
        figures = outputs.figures(f"broker-{how}", valid, bad, started)
        figures.peak_rss_mb = round(peak_rss_mb(worker.proc.pid), 1)
        figures.notes |= {"enriched_before_outage": at_outage, "worker_alive": worker.alive()}
        figures.report(record_property)
        assert figures.lost == 0, figures
        assert worker.alive()
        worker.stop()
    finally:
        if outputs is not None:
            outputs.close()
        broker.stop()


# --- (d) a burst -----------------------------------------------------------------------------------


@pytest.mark.soak
@pytest.mark.timeout(2400)
def test_a_100k_burst_keeps_worker_memory_bounded(
    kafka: str,
    worker_factory: Callable[..., Any],
    outputs_factory: Callable[..., Outputs],
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    tag = uuid.uuid4().hex[:10]
    app_id = f"vigil-burst-{tag}"
    start_group_at_end(kafka, app_id)
    outputs = outputs_factory(kafka, tag)
    path = tmp_path / "burst.jsonl"
    valid, bad = write_posts(path, tag, BURST_POSTS)
    worker = worker_factory(app_id=app_id)
    idle = peak_rss_mb(worker.proc.pid)
    started = time.monotonic()
    run_ingest(kafka, path, timeout=600)
    outputs.until(lambda o: o.complete(valid, bad), timeout=1800)
    outputs.settle()
    figures = outputs.figures("burst-100k", valid, bad, started)
    figures.peak_rss_mb = round(peak_rss_mb(worker.proc.pid), 1)
    figures.notes |= {"idle_peak_rss_mb": round(idle, 1)}
    figures.report(record_property)
    assert figures.lost == 0, figures
    assert figures.peak_rss_mb < BURST_RSS_BUDGET_MB, f"peak RSS {figures.peak_rss_mb} MiB (idle {idle:.0f} MiB)"


# --- a post that orjson reads but cannot write -----------------------------------------------------


def test_a_post_nested_too_deep_is_dead_lettered_and_the_stream_goes_on(
    kafka: str,
    worker_factory: Callable[..., Any],
    outputs_factory: Callable[..., Outputs],
    tmp_path: Path,
) -> None:
    """A valid post whose unknown field nests 300 levels: orjson reads it but would not write it back.

    Before the contract limited nesting, the agent crashed on ``orjson.dumps`` and every later post on
    its partitions waited forever while the worker still looked healthy.
    """
    tag = uuid.uuid4().hex[:10]
    app_id = f"vigil-pill-{tag}"
    start_group_at_end(kafka, app_id)
    outputs = outputs_factory(kafka, tag)
    path = tmp_path / "posts.jsonl"
    valid, _ = write_posts(path, tag, 200, bad_every=0)
    deep = f'{{"id": "{tag}-deep", "text": "on Humira", "thread_id": "{tag}-thread-1", "x": '.encode()
    deep += b"[" * 300 + b"]" * 300 + b"}"
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join(lines[:100] + [deep] + lines[100:]) + b"\n")
    worker = worker_factory(app_id=app_id)
    run_ingest(kafka, path, timeout=600)
    outputs.until(lambda o: o.complete(valid, 1), timeout=120)
    outputs.settle(quiet=3.0)
    assert worker.alive()
    assert len(outputs.enriched) == valid, f"{valid - len(outputs.enriched)} valid posts stuck behind the deep one"
    assert len(outputs.dead) == 1, "the deep post is dead-lettered"


# --- an output the broker refuses ------------------------------------------------------------------


def _enriched_topic_limit(admin: KafkaAdminClient, limit: int) -> None:
    admin.alter_configs([ConfigResource("TOPIC", ENRICHED, configs={"max.message.bytes": str(limit)})])


def test_an_output_the_broker_refuses_stops_the_worker_and_no_post_is_lost(
    kafka: str,
    kafka_admin: KafkaAdminClient,
    worker_factory: Callable[..., Any],
    outputs_factory: Callable[..., Outputs],
    tmp_path: Path,
) -> None:
    """``vigil.posts.enriched`` refuses every enriched post (its message limit set below their size).

    The producer's send fails for good after the post's offset could have been committed. The
    worker must stop without committing it; once the topic is fixed, the next worker enriches
    every post. Committing anyway (as a send that nobody waits for would) loses them silently.
    """
    tag = uuid.uuid4().hex[:10]
    app_id = f"vigil-refused-{tag}"
    data_dir = str(tmp_path / "worker-state")
    start_group_at_end(kafka, app_id)
    outputs = outputs_factory(kafka, tag)
    path = tmp_path / "posts.jsonl"
    valid, bad = write_posts(path, tag, 300)
    _enriched_topic_limit(kafka_admin, 300)
    try:
        first = worker_factory(app_id=app_id, data_dir=data_dir)
        run_ingest(kafka, path, timeout=600)
        deadline = time.monotonic() + 120
        while first.alive() and time.monotonic() < deadline:
            outputs.poll(timeout_ms=200)
        assert not first.alive(), "the worker went on after the broker refused its outputs"
        log = first.log_path.read_text()
        assert f"the broker refused an output to {ENRICHED}" in log, log[-3000:]
        assert not outputs.enriched
    finally:
        _enriched_topic_limit(kafka_admin, TOPIC_MAX_MESSAGE_BYTES)
    second = worker_factory(app_id=app_id, data_dir=data_dir)
    assert outputs.until(lambda o: o.complete(valid, bad), timeout=300), (
        f"{valid - len(outputs.enriched)} of {valid} posts lost after the refused outputs"
    )
    assert second.alive()
