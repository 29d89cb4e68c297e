"""Vigil against a broker that wants SASL_PLAINTEXT with SCRAM-SHA-512.

A broker of the test's own (the session broker is PLAINTEXT only) opens a SCRAM listener next to
its PLAINTEXT one; every Vigil command is pointed at the SCRAM listener through ``VIGIL_KAFKA_*``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient

from streams.kafka_clients import BOOTSTRAP_TIMEOUT_MS
from streams.localkafka import LocalKafka, free_port, probe
from streams.topics import DLQ, ENRICHED, TOPICS

USER, PASSWORD = "vigil", "scram-test-secret-0123456789"


@pytest.fixture(autouse=True)
def _compiled_lexicon(nlp: object) -> None:
    """Build the lexicon and segment model into the session cache before the worker starts."""


@pytest.fixture(scope="module")
def scram_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    port = free_port()
    while (controller_port := free_port()) == port:
        pass
    broker = LocalKafka(
        port,
        controller_port,
        tmp_path_factory.mktemp("kafka-scram"),
        heap="512m",
        sasl_scram={"username": USER, "password": PASSWORD},
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def sasl_env(broker: LocalKafka, password: str = PASSWORD) -> dict[str, str]:
    """Settings that point Vigil at the broker's SCRAM listener."""
    assert broker.sasl_bootstrap
    return {
        "VIGIL_KAFKA_BOOTSTRAP": broker.sasl_bootstrap,
        "VIGIL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "VIGIL_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "VIGIL_KAFKA_SASL_USERNAME": USER,
        "VIGIL_KAFKA_SASL_PASSWORD": password,
    }


def vigil(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_the_listener_refuses_plaintext_clients_and_accepts_scram(scram_broker: LocalKafka) -> None:
    """The set-up is what the other tests assume: SCRAM is checked, not merely on offer."""
    assert probe(scram_broker.bootstrap) is None, "the PLAINTEXT listener answers"
    assert probe(scram_broker.sasl_bootstrap or "", timeout=5) is not None, "the SCRAM one refuses PLAINTEXT"
    admin = KafkaAdminClient(
        bootstrap_servers=scram_broker.sasl_bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=USER,
        sasl_plain_password=PASSWORD,
    )
    try:
        assert admin.describe_cluster()["brokers"]
    finally:
        admin.close()


def test_topics_worker_and_ingest_over_scram(
    scram_broker: LocalKafka, worker_factory: Callable[..., Any], tmp_path: Path
) -> None:
    env = sasl_env(scram_broker)
    created = vigil("topics", "create", "--partitions", "2", env=env)
    assert created.returncode == 0, created.stderr
    assert {line.split()[0] for line in created.stdout.splitlines()} == {t.name for t in TOPICS}

    worker = worker_factory(**{k.removeprefix("VIGIL_").lower(): v for k, v in env.items()})
    tag = uuid.uuid4().hex[:10]
    posts = [
        {"id": f"{tag}-{i}", "text": f"day {i} on Ozempic, the nausea is finally fading", "platform": "reddit",
         "author": {"id": f"u{i}", "handle": f"@h{i}"}}
        for i in range(50)
    ]  # fmt: skip
    path = tmp_path / "posts.jsonl"
    path.write_bytes(
        b"\n".join([json.dumps(p).encode() for p in posts] + [b'{"id": "' + tag.encode() + b'-bad"']) + b"\n"
    )
    sent = vigil("ingest", "--input", str(path), "--no-progress", env=env)
    assert sent.returncode == 0, sent.stderr
    assert f"sent {len(posts) + 1}, failed 0" in sent.stderr

    consumer = KafkaConsumer(
        ENRICHED,
        DLQ,
        bootstrap_servers=scram_broker.sasl_bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=USER,
        sasl_plain_password=PASSWORD,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    enriched: dict[str, dict[str, Any]] = {}
    dead = 0
    deadline = time.monotonic() + 180
    try:
        while (len(enriched) < len(posts) or not dead) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    if record.topic == ENRICHED:
                        post = json.loads(record.value)
                        enriched[post["id"]] = post
                    elif tag.encode() in record.value:
                        dead += 1
    finally:
        consumer.close()
    assert set(enriched) == {p["id"] for p in posts}, "every post came out enriched over SCRAM"
    assert all(p["drugs"] and p["drugs"][0]["generic"] == "semaglutide" for p in enriched.values())
    assert dead == 1, "and the malformed line was dead-lettered"
    assert worker.alive()


COMMANDS = {
    "topics-create": ["topics", "create"],
    "ingest": ["ingest", "--input", "{path}", "--no-progress"],
    "worker": ["worker"],
}


@dataclass
class Outcome:
    """How a command ended with a wrong password."""

    returncode: int | None  #: ``None``: still running after the time allowed, and killed
    output: str
    seconds: float


_OUTCOMES: dict[str, Outcome] = {}


def wrong_password(broker: LocalKafka, command: str, cache_root: Path, tmp_path: Path) -> Outcome:
    """Run a command with a wrong password, once per command (two tests read each outcome)."""
    if command not in _OUTCOMES:
        _OUTCOMES[command] = _run_with_wrong_password(broker, command, cache_root, tmp_path)
    return _OUTCOMES[command]


def _run_with_wrong_password(broker: LocalKafka, command: str, cache_root: Path, tmp_path: Path) -> Outcome:
    path = tmp_path / "posts.jsonl"
    path.write_text(json.dumps({"id": "x", "text": "on Humira"}) + "\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")},
        **sasl_env(broker, password="not-the-password"),
        "VIGIL_DEMO": "1",
        "VIGIL_APP_ID": f"vigil-scram-{uuid.uuid4().hex[:8]}",
        "VIGIL_WEB_PORT": str(free_port()),
        "VIGIL_CACHE_DIR": str(cache_root),
        "VIGIL_DATA_DIR": str(tmp_path / "state"),
    }
    log = tmp_path / f"{command}.log"
    args = [a.replace("{path}", str(path)) for a in COMMANDS[command]]
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams", *args], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        code: int | None = proc.wait(timeout=150)
    except subprocess.TimeoutExpired:
        code = None  # a hang: the tests below fail on it
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    outcome = Outcome(code, log.read_text(errors="replace"), time.monotonic() - started)
    print(f"\nvigil {command} with a wrong password: exit {code} after {outcome.seconds:.1f} s")
    return outcome


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_wrong_password_fails_without_hanging(
    scram_broker: LocalKafka, command: str, cache_root: Path, tmp_path: Path
) -> None:
    outcome = wrong_password(scram_broker, command, cache_root, tmp_path)
    assert outcome.returncode is not None, f"still running after {outcome.seconds:.0f} s:\n{outcome.output[-2000:]}"
    assert outcome.returncode != 0
    # One bounded bootstrap attempt (plus interpreter start-up), not kafka-python's 30 s default.
    assert outcome.seconds < BOOTSTRAP_TIMEOUT_MS / 1000 + 15, f"failed only after {outcome.seconds:.0f} s"
    assert outcome.output.strip().splitlines()[-1].startswith("vigil: "), "it ends on Vigil's own one-line error"
    assert "Traceback" not in outcome.output, outcome.output[-3000:]


@pytest.mark.parametrize(
    "command",
    [
        # kafka-python cannot tell a refused password from a dropped connection: Vigil's own line
        # names the credential settings.
        "topics-create",
        "ingest",  # aiokafka logs "SaslAuthenticationFailed" on stderr before Vigil's line
        "worker",  # fails in its start-up checks (kafka-python), before Faust starts
    ],
)
def test_a_wrong_password_error_names_the_credentials(
    scram_broker: LocalKafka, command: str, cache_root: Path, tmp_path: Path
) -> None:
    text = wrong_password(scram_broker, command, cache_root, tmp_path).output.lower()
    assert "authentication" in text or "vigil_kafka_sasl_password" in text, text[-3000:]
