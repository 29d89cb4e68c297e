"""End-to-end Kafka throughput and latency of the Vigil worker, beside baselines measured in the same run.

    .venv/bin/python bench/bench_kafka.py [--posts 50000] [--partitions 1] [--latency-seconds 30] [--json PATH]
                                          [--profile] [--only-vigil] [--worker-env VIGIL_X=value ...]

Starts its own single-node Kafka (streams.localkafka) on free ports in a temporary directory and stops it at the
end, also on Ctrl-C or an error. Every row sees the same broker, the same ``--posts`` posts (bench_enrich's
corpus of ~40-word post JSON) and the same partition count:

1. offline ``vigil enrich`` on one core: ``Enricher.enrich_raw`` + ``orjson.dumps``, one pass on a freshly built
   pipeline (cold tokenizer cache, as the worker starts);
2. Vigil end-to-end: the posts pre-loaded into a fresh ``vigil.posts``, then one ``python -m streams worker``;
3. a plain Faust pass-through agent (bench/_passthrough_faust.py), with Faust's default settings (3a) and with
   Vigil's tuned settings via ``streams.app.create_app`` (3b), each on its own pre-loaded topics;
4. a bare aiokafka pass-through (getmany + producer, linger 5 ms, 256 KiB batches): the client's ceiling;
5. latency: a paced producer at half of row 2's rate into ``vigil.posts``, same worker left running; from the
   input record's CreateTime to the enriched post arriving at this script's consumer;
6. the worker's peak RSS (VmHWM) after rows 2 and 5.

``--profile`` samples the worker with py-spy during row 2 and prints where its time went (functions by own
time, and the share of time under each Vigil stage). ``--only-vigil`` skips rows 3-4 (for profiling runs).
``--worker-env`` passes settings to the Vigil worker (e.g. to measure another producer batch size).

Throughput (rows 2-4) = N / (arrival at this script's consumer of the last output − the earliest moment the
agent had a post). That start is the minimum ``enriched_at`` over Vigil's outputs (stamped when a batch enters
the pipeline, millisecond precision) or of the ``passed_at`` field the pass-through agents add, so process and
group start-up are excluded, and delivery of every output to a consumer is included. Outputs are checked:
exactly the N input ids, and for Vigil ``drugs``, ``enriched_at``, ``pipeline_version`` and a pseudonymised
author (the demo key's pseudonym, handle dropped), and the worker's own metrics must count N processed and no
dead letters. A dead process, 60 s without a new output, or a wrong output stops the run with exit code 1 and the
tails of the process logs. The table names the measured version (``git describe --dirty``) and the load average:
other processes on the machine skew absolute numbers, less so the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

# This checkout's code, in this process and (PYTHONPATH, see clean_env) in every worker, even from a copy of the tree.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_enrich import corpus

from processors import Enricher, Pseudonymizer, build_nlp
from streams.ingest import message_key
from streams.localkafka import KAFKA_VERSION, LocalKafka, cache_dir, free_port
from streams.settings import DEMO_PSEUDONYM_KEY, Settings
from streams.topics import ENRICHED, POSTS, TOPIC_MAX_MESSAGE_BYTES, create_topics

ROOT = Path(__file__).resolve().parent.parent
PASSTHROUGH = Path(__file__).resolve().parent / "_passthrough_faust.py"
_MIB = 1024 * 1024
ROWS = {
    "offline": "1  offline vigil enrich (1 core)",
    "vigil": "2  vigil worker, end to end",
    "faust-default": "3a faust pass-through, default settings",
    "faust-tuned": "3b faust pass-through, vigil settings",
    "aiokafka": "4  aiokafka pass-through (client ceiling)",
}
STALL_S = 60  # seconds without a new output, once outputs flow, before a row is declared stuck
PASSES = ("faust-default", "faust-tuned", "aiokafka")  # modes of _passthrough_faust.py
Check = Callable[[dict[str, Any]], "str | None"]  # an output -> what is wrong with it, else None
Alive = Callable[[], "str | None"]  # None while the process under test runs, else why it stopped


class BenchFailure(RuntimeError):
    """The benchmark could not measure honestly: a process died, outputs are missing or malformed."""


class Procs:
    """Subprocesses of this run, each in its own session, logs in the temp dir; all stopped by :meth:`stop_all`."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.started: list[str] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.tmp / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running[name] = proc
        self.started.append(name)
        return proc

    def log_tail(self, name: str) -> str:
        return "\n".join((self.tmp / f"{name}.log").read_text(errors="replace").splitlines()[-30:])

    def stop(self, name: str) -> None:
        proc = self.running.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def peak_rss(pid: int) -> int:
    """VmHWM (peak resident set) of a live process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise BenchFailure(f"no VmHWM for pid {pid}")


def worker_batches(web_port: int) -> dict[str, float]:
    """The worker's own account of its batches (from /metrics): how many, mean size, seconds inside them."""
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=10) as page:
        values = {ln.split()[0]: float(ln.split()[-1]) for ln in page.read().decode().splitlines() if ln[:1] != "#"}
    batches = values.get("vigil_enrichment_batch_posts_count", 0.0)
    return {
        "batches": batches,
        "mean_posts": values.get("vigil_enrichment_batch_posts_sum", 0.0) / max(1.0, batches),
        "seconds_in_batches": values.get("vigil_enrichment_duration_seconds_sum", 0.0),
    }


def worker_counts(web_port: int) -> tuple[float, float] | str:
    """(posts processed, messages dead-lettered) from the worker's /metrics, else why not."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=10) as page:
            lines = page.read().decode().splitlines()
    except OSError as exc:
        return f"unavailable: {exc}"
    total = lambda name: sum(float(ln.split()[-1]) for ln in lines if ln.startswith(name + "{"))  # noqa: E731
    return total("vigil_posts_processed_total"), total("vigil_dead_letters_total")


def offline_rate(lines: list[bytes], cache: Path) -> float:
    """Row 1: what ``vigil enrich`` does per chunk of 2,000 lines, on one core."""
    enricher = Enricher(build_nlp(cache_dir=cache / "lexicon"), Pseudonymizer(DEMO_PSEUDONYM_KEY.encode()))
    started = time.perf_counter()
    for i in range(0, len(lines), 2000):
        for result in enricher.enrich_raw(lines[i : i + 2000]):
            if not isinstance(result, dict):
                raise BenchFailure(f"offline enrich rejected a benchmark post: {result}")
            orjson.dumps(result)
    return len(lines) / (time.perf_counter() - started)


def check_vigil(author_of: Callable[[str], str]) -> Check:
    """Check an enriched post; ``author_of`` maps a post id to its raw author id (the worker uses the demo key)."""
    pseudonym = Pseudonymizer(DEMO_PSEUDONYM_KEY.encode())

    def check(out: dict[str, Any]) -> str | None:
        missing = [f for f in ("drugs", "enriched_at", "pipeline_version", "author") if f not in out]
        if missing:
            return f"missing {', '.join(missing)}"
        if out["author"].get("id") != pseudonym(author_of(out["id"])) or "handle" in out["author"]:
            return "author not pseudonymised"
        return None

    return check


def check_passed(out: dict[str, Any]) -> str | None:
    return None if isinstance(out.get("passed_at"), float) else "no passed_at field"


class Bench:
    """The Kafka rows (2-6) on one broker: topics, pre-loaded inputs, worker subprocesses, an output consumer."""

    def __init__(
        self,
        bootstrap: str,
        partitions: int,
        procs: Procs,
        tmp: Path,
        *,
        profile: bool = False,
        only_vigil: bool = False,
    ) -> None:
        self.bootstrap, self.partitions, self.procs, self.tmp = bootstrap, partitions, procs, tmp
        self.profile, self.only_vigil = profile, only_vigil
        self.profile_raw: Path | None = None
        self.worker_env: dict[str, str] = {}
        self.profile_result: dict[str, Any] | None = None

    def make_topics(self, names: list[str]) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="vigil-bench")
        try:
            config = {"max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES)}
            new = [NewTopic(name, self.partitions, 1, topic_configs=config) for name in names]
            admin.create_topics(new, timeout_ms=30_000)
        finally:
            admin.close()

    async def preload(self, topic: str, lines: list[bytes]) -> None:
        """Send ``lines`` to ``topic`` keyed as ``vigil ingest`` keys them (thread, else id)."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, linger_ms=5, max_batch_size=256 * 1024, acks="all"
        )
        await producer.start()
        try:
            for line in lines:
                await producer.send(topic, line, key=message_key(line))
            await producer.flush()
        finally:
            await producer.stop()

    async def collect(
        self,
        topic: str,
        expect: set[str],
        check: Check,
        alive: Alive,
        timeout: float,
        ready: asyncio.Event | None = None,
    ) -> dict[str, tuple[float, dict[str, Any]]]:
        """Read ``topic`` until every id in ``expect`` has arrived: id -> (arrival Unix time, output).

        With ``ready``, start at the current end of the topic and set ``ready`` once positioned, else at its start.

        Raises:
            BenchFailure: A ``check`` failed, an unexpected id arrived, the process under test died (``alive``
                says why), or ``timeout`` seconds passed.
        """
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
            max_partition_fetch_bytes=16 * _MIB, fetch_max_wait_ms=100,
        )  # fmt: skip
        await consumer.start()
        got: dict[str, tuple[float, dict[str, Any]]] = {}
        try:
            tps = [TopicPartition(topic, p) for p in range(self.partitions)]
            consumer.assign(tps)
            if ready is None:
                await consumer.seek_to_beginning(*tps)
            else:
                await consumer.seek_to_end(*tps)
                for tp in tps:
                    await consumer.position(tp)  # resolves the end offset now, before anything is produced
                ready.set()
            deadline, progress = time.monotonic() + timeout, time.monotonic()
            while len(got) < len(expect):
                now = time.monotonic()
                stalled = got and now - progress > STALL_S and f"no new output for {STALL_S} s"
                if why := alive() or stalled or (now > deadline and f"timed out after {timeout:.0f} s"):
                    raise BenchFailure(f"{topic}: {len(got)} of {len(expect)} outputs arrived; {why}")
                before = len(got)
                batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
                arrived = time.time()
                for records in batches.values():
                    for record in records:
                        out = orjson.loads(record.value)
                        if out.get("id") not in expect:
                            raise BenchFailure(f"{topic}: unexpected output id {out.get('id')!r}")
                        if problem := check(out):
                            raise BenchFailure(f"{topic}: output {out['id']}: {problem}")
                        got.setdefault(out["id"], (arrived, out))
                if len(got) > before:
                    progress = time.monotonic()
        finally:
            await consumer.stop()
        return got

    def alive(self, name: str) -> Alive:
        proc = self.procs.running[name]
        return lambda: (
            None if proc.poll() is None else f"{name} exited with {proc.returncode}:\n{self.procs.log_tail(name)}"
        )

    async def rate(
        self, name: str, cmd: list[str], env: dict[str, str], topic: str, ids: set[str], check: Check, start_field: str
    ) -> dict[str, Any]:
        """Start a worker on its pre-loaded input and collect every output; posts/s from ``start_field`` on."""
        proc = self.procs.start(name, cmd, env)
        profiler = Profiler(proc.pid, self.tmp / f"{name}.pyspy") if self.profile and name == "vigil" else None
        try:
            # The timeout is only a safety net: a stall (STALL_S) or a dead process fails sooner.
            got = await self.collect(topic, ids, check, self.alive(name), timeout=300 + len(ids) / 25)
        finally:
            if profiler is not None:
                stacks = profiler.stop()
                self.profile_result = profile_summary(stacks)
                if self.profile_raw is not None:
                    self.profile_raw.write_text("".join(f"{stack} {count}\n" for stack, count in stacks.items()))
        first = min(out[start_field] for _, out in got.values())
        start = datetime.fromisoformat(first.replace("Z", "+00:00")).timestamp() if isinstance(first, str) else first
        seconds = max(arrived for arrived, _ in got.values()) - start
        return {"posts_per_s": len(ids) / seconds, "seconds": round(seconds, 3), "outputs": len(got)}

    async def latency(self, posts: list[dict[str, Any]], rate: float, seconds: float, check: Check) -> dict[str, Any]:
        """Row 5: ``rate`` posts/s into vigil.posts for ``seconds``; from input CreateTime to arrival here."""
        count = max(1, int(rate * seconds))
        lines = [orjson.dumps({**posts[i % len(posts)], "id": f"lat-{i}"}) for i in range(count)]
        sent_ms: dict[str, int] = {}
        ready = asyncio.Event()
        expect = {f"lat-{i}" for i in range(count)}
        collector = asyncio.create_task(
            self.collect(ENRICHED, expect, check, self.alive("vigil"), seconds + 120, ready)
        )
        await asyncio.wait([collector, asyncio.create_task(ready.wait())], return_when=asyncio.FIRST_COMPLETED)
        if collector.done():
            collector.result()  # raises the collector's failure
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            began, sent = time.monotonic(), 0
            while sent < count:
                due = min(count, int((time.monotonic() - began) * rate) + 1)
                for i in range(sent, due):
                    sent_ms[f"lat-{i}"] = stamp = int(time.time() * 1000)
                    await producer.send(POSTS, lines[i], key=message_key(lines[i]), timestamp_ms=stamp)
                sent = due
                await asyncio.sleep(0.005)
            await producer.flush()
            paced = time.monotonic() - began
        finally:
            await producer.stop()
        lat = sorted(arrived - sent_ms[i] / 1000 for i, (arrived, _) in (await collector).items())
        ms = {q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1) for q in (0.50, 0.99, 1.0)}
        return {"rate": round(rate, 1), "seconds": round(paced, 1), "posts": count, "p50_ms": ms[0.50], "p99_ms": ms[0.99], "max_ms": ms[1.0]}  # fmt: skip

    async def run(self, lines: list[bytes], latency_seconds: float) -> dict[str, Any]:
        """Rows 2-6; returns ``{"rows": {...}, "latency": {...}, "worker_peak_rss_bytes": ...}``."""
        inputs = {p["id"]: p for p in map(orjson.loads, lines)}
        create_topics(Settings(kafka_bootstrap=self.bootstrap), self.partitions)
        self.make_topics([f"bench.{mode}.{end}" for mode in PASSES for end in ("in", "out")])
        for topic in [POSTS, *(f"bench.{mode}.in" for mode in PASSES)]:
            await self.preload(topic, lines)
        rows: dict[str, Any] = {}

        web = free_port()
        env = clean_env(
            VIGIL_KAFKA_BOOTSTRAP=self.bootstrap, VIGIL_DEMO="1", VIGIL_WEB_PORT=str(web), VIGIL_APP_ID=f"vigil-bench-{web}",
            VIGIL_CACHE_DIR=str(cache_dir()), VIGIL_DATA_DIR=str(self.tmp / "vigil-state"), **self.worker_env,
        )  # fmt: skip
        posts = list(inputs.values())
        # Latency posts "lat-<i>" are copies of posts[i % N] under a new id.
        check = check_vigil(lambda i: (inputs.get(i) or posts[int(i[4:]) % len(posts)])["author"]["id"])
        worker = [sys.executable, "-m", "streams", "worker"]
        try:
            rows["vigil"] = await self.rate("vigil", worker, env, ENRICHED, set(inputs), check, "enriched_at")
            pid = self.procs.running["vigil"].pid
            rows["vigil"]["peak_rss_bytes"] = peak_rss(pid)
            rows["vigil"]["batches"] = worker_batches(web)
            if worker_counts(web) != (len(inputs), 0.0):
                raise BenchFailure(f"the worker did not count {len(inputs)} posts processed and none dead-lettered")
            latency = await self.latency(posts, rows["vigil"]["posts_per_s"] / 2, latency_seconds, check)
        except BenchFailure as exc:
            raise BenchFailure(f"{exc} (worker metrics: {worker_counts(web)})") from None
        worker_peak = peak_rss(pid)
        self.procs.stop("vigil")

        for mode in () if self.only_vigil else PASSES:
            port = free_port()
            cmd = [
                sys.executable, str(PASSTHROUGH), mode, "--bootstrap", self.bootstrap, "--input", f"bench.{mode}.in",
                "--output", f"bench.{mode}.out", "--app-id", f"bench-{mode}-{port}", "--web-port", str(port),
                "--data-dir", str(self.tmp / mode),
            ]  # fmt: skip
            rows[mode] = await self.rate(
                mode, cmd, clean_env(), f"bench.{mode}.out", set(inputs), check_passed, "passed_at"
            )
            self.procs.stop(mode)
        return {"rows": rows, "latency": latency, "worker_peak_rss_bytes": worker_peak, "profile": self.profile_result}


PROFILE_STAGES = {  # py-spy frames read "function (path:line)"; a stage is every sample with its frame in the stack
    "agent: one batch (EnrichHandler.handle)": "handle (streams/agents.py",
    "  enrichment (Enricher.enrich_raw)": "enrich_raw (processors/pipeline.py",
    "    spaCy tokenizer": "KeepTextTokenizer.__call__",
    "    pipeline components (drugs to adverse events)": "(processors/components/",
    "  publishing (EnrichHandler._send)": "_send (streams/agents.py",
    "  windowed tables (Aggregates.update)": "update (streams/tables.py",
    "  metrics (VigilMetrics.record_post)": "record_post (streams/metrics.py",
    "idle (waiting in select)": "select (selectors.py",
    "Faust stream: events to the agent (faust/streams.py)": "(faust/streams.py",
    "Faust consumer: fetch, hand out, commit (faust/transport/)": "(faust/transport/",
    "aiokafka consumer (fetch, decode records)": "(aiokafka/consumer/",
    "aiokafka producer (batch, send)": "(aiokafka/producer/",
    "Faust web server (/metrics scrapes)": "(faust/web/",
}


class Profiler:
    """py-spy attached to a process; :meth:`stop` returns the samples as collapsed stacks."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [_py_spy(), "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def stop(self) -> dict[str, int]:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        stacks: dict[str, int] = {}
        if self.out.exists():
            for line in self.out.read_text(errors="replace").splitlines():
                stack, _, count = line.rpartition(" ")
                if count.isdigit():
                    stacks[stack] = stacks.get(stack, 0) + int(count)
        return stacks


def _py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")  # the venv's, installed with the dev extras
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise BenchFailure("--profile needs py-spy: pip install -e '.[dev]'")
    return found


def profile_summary(stacks: dict[str, int], top: int = 15) -> dict[str, Any]:
    """Own time per function (leaf frames) and the share of samples under each of :data:`PROFILE_STAGES`."""
    total = sum(stacks.values()) or 1
    own: dict[str, int] = {}
    for stack, count in stacks.items():
        leaf = stack.rsplit(";", 1)[-1]
        own[leaf] = own.get(leaf, 0) + count
    stages = {
        name: sum(c for st, c in stacks.items() if marker in st) / total for name, marker in PROFILE_STAGES.items()
    }
    ranked = sorted(own.items(), key=lambda item: -item[1])[:top]
    return {"samples": total, "stages": stages, "own": [(frame, count / total) for frame, count in ranked]}


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kafka": KAFKA_VERSION,
        **{pkg: version(pkg) for pkg in ("faust-streaming", "aiokafka", "spacy")},
        "vigil": subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
        ).stdout.strip(),  # the code moves fast: say which version was measured
    }


def report(res: dict[str, Any]) -> None:
    m, a = res["machine"], res["args"]
    print(
        f"machine: {m['cores']} cores, Python {m['python']}, Kafka {m['kafka']}, faust-streaming {m['faust-streaming']}, "
        f"aiokafka {m['aiokafka']}, spaCy {m['spacy']}; load average {res['load_before']} before, {res['load_after']} after"
    )
    print(
        f"vigil {m['vigil']}; posts: {a['posts']:,} (~40 words each), partitions: {a['partitions']}, one broker for every row"
    )
    print(f"{'row':<46}{'posts/s':>10}{'seconds':>10}")
    for key, label in ROWS.items():
        if key not in res["rows"]:
            continue
        row = res["rows"][key]
        print(f"{label:<46}{row['posts_per_s']:>10,.0f}{row['seconds']:>10.2f}")
    if batches := res["rows"]["vigil"].get("batches"):
        print(
            f"{'   worker batches in row 2':<46}{batches['batches']:,.0f} batches of {batches['mean_posts']:,.0f} posts on "
            f"average, {batches['seconds_in_batches']:,.1f} s inside them (decode, enrich, hand to the producer)"
        )
    lat = res["latency"]
    print(
        f"{'5  latency at ' + format(lat['rate'], ',.0f') + ' posts/s for ' + str(lat['seconds']) + ' s':<46}"
        f"p50 {lat['p50_ms']:,.0f} ms, p99 {lat['p99_ms']:,.0f} ms, max {lat['max_ms']:,.0f} ms ({lat['posts']:,} posts)"
    )
    print(
        f"{'6  vigil worker peak RSS (VmHWM)':<46}{res['rows']['vigil']['peak_rss_bytes'] / _MIB:,.0f} MiB after row 2, "
        f"{res['worker_peak_rss_bytes'] / _MIB:,.0f} MiB after row 5"
    )
    for label, value in res["ratios"].items():
        print(f"{'ratio ' + label:<46}{value:>10.2f}")
    if prof := res.get("profile"):
        print(f"worker profile during row 2 (py-spy, {prof['samples']:,} samples), share of time under:")
        for name, share in prof["stages"].items():
            print(f"  {name:<44}{share:>8.1%}")
        print("  functions by own time:")
        for frame, share in prof["own"]:
            print(f"  {share:>7.1%}  {frame[:110]}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=50_000, help="posts per row (default 50,000)")
    parser.add_argument("--partitions", type=int, default=1, help="partitions of every topic (default 1)")
    parser.add_argument(
        "--latency-seconds", type=float, default=30.0, help="paced-producer duration for row 5 (default 30)"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this path")
    parser.add_argument("--profile", action="store_true", help="sample the worker with py-spy during row 2")
    parser.add_argument("--profile-raw", type=Path, help="with --profile: keep py-spy's collapsed stacks here")
    parser.add_argument("--only-vigil", action="store_true", help="skip the pass-through rows 3-4")
    parser.add_argument(
        "--worker-env", action="append", default=[], metavar="VIGIL_X=value", help="a setting for the Vigil worker"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # a kill stops the broker and workers too, as Ctrl-C does
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = corpus(args.posts, 40)
    rows = {"offline": {"posts_per_s": offline_rate(lines, cache_dir()), "seconds": 0.0}}
    rows["offline"]["seconds"] = args.posts / rows["offline"]["posts_per_s"]
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmpdir:
        tmp = Path(tmpdir)
        procs = Procs(tmp)
        port = free_port()
        while (controller := free_port()) == port:
            pass
        try:
            with LocalKafka(port, controller, data_dir=tmp / "kafka", heap="1g") as kafka:
                try:
                    bench = Bench(
                        kafka.bootstrap, args.partitions, procs, tmp, profile=args.profile, only_vigil=args.only_vigil
                    )
                    bench.profile_raw = args.profile_raw
                    bench.worker_env = dict(item.split("=", 1) for item in args.worker_env)
                    kafka_results = asyncio.run(bench.run(lines, args.latency_seconds))
                finally:
                    procs.stop_all()
        except BenchFailure as exc:
            for name in procs.started:
                print(f"--- last lines of {name}'s log:\n{procs.log_tail(name)}", file=sys.stderr)
            print(f"bench_kafka: FAILED: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("bench_kafka: interrupted; broker and workers stopped", file=sys.stderr)
            return 130
    rows.update(kafka_results.pop("rows"))
    vigil = rows["vigil"]["posts_per_s"]
    results = {
        "machine": machine(),
        "args": {"posts": args.posts, "partitions": args.partitions, "worker_env": args.worker_env},
        "rows": rows,
        **kafka_results,
        "ratios": {
            label: vigil / rows[key]["posts_per_s"]
            for label, key in (
                ("row 2 / row 1 (vigil e2e / offline)", "offline"),
                ("row 2 / row 3a (vigil / faust default)", "faust-default"),
                ("row 2 / row 3b (vigil / faust tuned)", "faust-tuned"),
                ("row 2 / row 4 (vigil / aiokafka)", "aiokafka"),
            )
            if key in rows
        },
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
