"""Fixtures for tests against a real Kafka broker.

One single-node KRaft broker (:class:`streams.localkafka.LocalKafka`) serves the whole session, on
free loopback ports with its data in a temporary directory. Set ``VIGIL_KAFKA_BOOTSTRAP`` to run
against an existing broker instead. Tests never share a topic or a consumer group: the factories
below add a random suffix to every name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from streams.localkafka import LocalKafka, free_port

_HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs real services (Kafka via Java)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every collected item, not only this directory's: filter by path.
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


def _free_port_pair() -> tuple[int, int]:
    port = free_port()
    while (controller_port := free_port()) == port:
        pass
    return port, controller_port


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers (``"127.0.0.1:<port>"``) of a broker that lives for the whole session."""
    external = os.environ.get("VIGIL_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    port, controller_port = _free_port_pair()
    broker = LocalKafka(port, controller_port, tmp_path_factory.mktemp("kafka"), heap="512m")
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def broker_ports() -> tuple[int, int]:
    """Two distinct free loopback ports (client, controller) for a test's own broker."""
    return _free_port_pair()


@pytest.fixture(scope="session")
def kafka_admin(kafka: str) -> Iterator[KafkaAdminClient]:
    """A kafka-python admin client on the session broker."""
    admin = KafkaAdminClient(bootstrap_servers=kafka, client_id="vigil-tests")
    try:
        yield admin
    finally:
        admin.close()


@pytest.fixture
def topic_factory(kafka_admin: KafkaAdminClient) -> Iterator[Callable[..., str]]:
    """Create uniquely named topics: ``topic_factory("posts", partitions=3) -> "posts-1a2b..."``.

    The topic exists with a leader for every partition when the call returns (auto-create is off).
    Topics are deleted after the test, on a best-effort basis.
    """
    created: list[str] = []

    def make(prefix: str = "vigil-test", partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        spec = {"num_partitions": partitions, "replication_factor": 1, "configs": config or {}}
        kafka_admin.create_topics({name: spec}, wait_for_metadata=True)
        created.append(name)
        return name

    yield make
    with contextlib.suppress(Exception):
        kafka_admin.delete_topics(created)


@pytest.fixture
def group_factory() -> Callable[..., str]:
    """Make unique consumer group ids: ``group_factory("enricher") -> "enricher-1a2b..."``."""

    def make(prefix: str = "vigil-test") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    return make


class WorkerProcess:
    """A real ``vigil worker`` process (``python -m streams worker``) on the session broker."""

    def __init__(self, env: dict[str, str], web_port: int, log_path: Path) -> None:
        self.env = env
        self.web_port = web_port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics", timeout=1) as response,
            ):
                if response.status == 200:
                    return self
            time.sleep(0.3)
        raise AssertionError(f"worker did not serve /metrics within {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics", timeout=5) as response:
            return response.read().decode()

    def sample(self, name: str, **labels: str) -> float:
        """One sample's value from ``/metrics`` (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families

        for family in text_string_to_metric_families(self.metrics()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return 0.0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="session")
def vigil_topics(kafka: str) -> list[str]:
    """Vigil's own topics, created once on the session broker with `vigil topics create`."""
    env = {**os.environ, "VIGIL_KAFKA_BOOTSTRAP": kafka}
    done = subprocess.run(
        [sys.executable, "-m", "streams", "topics", "create", "--partitions", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [line.split()[0] for line in done.stdout.splitlines()]


@pytest.fixture
def worker_factory(
    kafka: str, vigil_topics: list[str], cache_root: Path, tmp_path: Path, group_factory: Callable[..., str]
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real workers, each with its own consumer group, web port and state; all stopped after the test."""
    started: list[WorkerProcess] = []

    def make(app_id: str | None = None, **settings: str) -> WorkerProcess:
        port = free_port()
        env = {
            **os.environ,
            "VIGIL_KAFKA_BOOTSTRAP": kafka,
            "VIGIL_DEMO": "1",
            "VIGIL_APP_ID": app_id or group_factory("vigil-worker"),
            "VIGIL_WEB_PORT": str(port),
            "VIGIL_CACHE_DIR": str(cache_root),
            "VIGIL_DATA_DIR": str(tmp_path / f"state-{port}"),
            **{f"VIGIL_{k.upper()}": v for k, v in settings.items()},
        }
        worker = WorkerProcess(env, port, tmp_path / f"worker-{port}.log")
        started.append(worker.start())
        return worker

    yield make
    for worker in started:
        worker.stop()
