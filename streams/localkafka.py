"""A single-node Apache Kafka broker (KRaft) for local runs and integration tests, without Docker.

The broker's jars come from Maven Central, resolved once by ``mvn`` into a cache outside git
(``${VIGIL_CACHE_DIR:-~/.cache/vigil}/kafka-<version>/libs``), and run with the local ``java``.
One process is broker and controller, listens on 127.0.0.1 only, and never auto-creates topics.

Usage::

    python -m streams.localkafka start --detach     # returns once the broker answers
    python -m streams.localkafka status
    python -m streams.localkafka stop

    with LocalKafka(port=free_port(), controller_port=free_port(), data_dir=tmp) as kafka:
        ...  # kafka.bootstrap == "127.0.0.1:<port>"
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from types import TracebackType

from streams.exceptions import KafkaRuntimeError

__all__ = ["KAFKA_VERSION", "LocalKafka", "cache_dir", "ensure_jars", "free_port", "main", "probe"]

#: Apache Kafka version run locally; the jar versions themselves are pinned in ``kafka/pom.xml``.
KAFKA_VERSION = "4.1.2"
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.7.1:copy-dependencies"
_NO_JAVA = (
    "Java 17+ is needed to run the local Kafka broker: install it (Debian: apt-get install "
    "openjdk-17-jre-headless) or set VIGIL_KAFKA_BOOTSTRAP to an existing broker"
)
_NO_MAVEN = (
    "Maven is needed once to fetch the Kafka jars from Maven Central: install it (Debian: "
    "apt-get install maven) or set VIGIL_KAFKA_BOOTSTRAP to an existing broker"
)
_LOG_ROTATE_BYTES = 16 * 1024 * 1024


def cache_dir() -> Path:
    """Vigil's download cache: ``$VIGIL_CACHE_DIR``, default ``~/.cache/vigil``."""
    return Path(os.environ.get("VIGIL_CACHE_DIR") or "~/.cache/vigil").expanduser()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (for tests; another process may race)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _resource(name: str) -> str:
    """Read a package data file from ``streams/kafka/``."""
    if __package__:
        return (resources.files(__package__) / "kafka" / name).read_text(encoding="utf-8")
    return (Path(__file__).parent / "kafka" / name).read_text(encoding="utf-8")


def _tail(path: Path, lines: int = 25) -> str:
    """Return the last ``lines`` lines of a text file, or a note that it is missing."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 16384))
            return "\n".join(fh.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return f"({path} does not exist)"


@functools.cache
def find_java() -> str:
    """Return the path of a Java 17+ ``java`` (``$JAVA_HOME/bin/java``, else ``java`` on PATH).

    Raises:
        KafkaRuntimeError: No java, or one older than 17.
    """
    home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(home) / "bin" / "java")] if home else []
    candidates.append(shutil.which("java") or "")
    java = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    if java is None:
        raise KafkaRuntimeError(_NO_JAVA)
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    major = 0 if match is None else int(match[2] if match[1] == "1" else match[1])
    if major < 17:
        raise KafkaRuntimeError(f"{java} is Java {major or 'of unknown version'}. {_NO_JAVA}")
    return java


def _jars_complete(libs: Path, marker: Path, digest: str) -> bool:
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return info.get("pom_sha256") == digest and all((libs / j).is_file() for j in info["jars"])


def ensure_jars(cache: Path | None = None) -> Path:
    """Fetch the pinned Kafka jars once; later calls only check the marker file.

    Args:
        cache: Cache root; default :func:`cache_dir`. Jars go to ``<cache>/kafka-<version>/libs``
            and Maven's local repository to ``<cache>/m2``.

    Returns:
        The directory holding the jars (use ``<dir>/*`` as the class path).

    Raises:
        KafkaRuntimeError: ``mvn`` is missing or the download failed.
    """
    root = cache or cache_dir()
    home = root / f"kafka-{KAFKA_VERSION}"
    libs, marker = home / "libs", home / "jars.complete.json"
    pom = _resource("pom.xml")
    digest = hashlib.sha256(pom.encode()).hexdigest()
    if _jars_complete(libs, marker, digest):
        return libs
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers fetch once, not N times
        if _jars_complete(libs, marker, digest):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaRuntimeError(_NO_MAVEN)
        (home / "pom.xml").write_text(pom, encoding="utf-8")
        shutil.rmtree(libs, ignore_errors=True)
        cmd = [mvn, "-q", "-B", "-f", str(home / "pom.xml"), f"-Dmaven.repo.local={root / 'm2'}",
               _DEPENDENCY_PLUGIN, f"-DoutputDirectory={libs}"]  # fmt: skip
        done = subprocess.run(cmd, cwd=home, capture_output=True, text=True)
        jars = sorted(p.name for p in libs.glob("*.jar"))
        if done.returncode != 0 or not any(j.startswith("kafka_2.13-") for j in jars):
            output = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
            raise KafkaRuntimeError(
                f"Fetching the Kafka {KAFKA_VERSION} jars from Maven Central failed "
                f"(mvn exit {done.returncode}). Check network access to Maven Central and "
                f"retry `python -m streams.localkafka fetch`.\n{output}"
            )
        marker.write_text(json.dumps({"pom_sha256": digest, "jars": jars}, indent=1))
    return libs


def probe(bootstrap: str, timeout: float = 5.0) -> str | None:
    """Send one metadata request; return ``None`` if the broker answered, else the reason it did not."""
    host, _, port = bootstrap.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:  # cheap check first: the admin client logs errors while a port is shut
        return f"connect failed: {exc}"
    from kafka import KafkaAdminClient  # imported late so fetch/stop work without kafka-python

    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)  # a booting broker is expected to refuse for a while
    try:
        ms = int(timeout * 1000)
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="vigil-localkafka-probe",
                                 request_timeout_ms=ms, bootstrap_timeout_ms=ms)  # fmt: skip
        try:
            cluster = admin.describe_cluster()
        finally:
            admin.close()
    except Exception as exc:  # noqa: BLE001 - any failure just means "not ready yet"
        return f"{type(exc).__name__}: {exc}"
    finally:
        kafka_log.setLevel(level)
    if not cluster.get("brokers") or cluster.get("controller_id", -1) == -1:
        return "no broker or controller registered yet"
    return None


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own exited child: reap the zombie
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalKafka:
    """One Kafka broker+controller process on 127.0.0.1, with its data in ``data_dir``.

    Args:
        port: Client (PLAINTEXT) port. Default 9092.
        controller_port: KRaft controller port. Default 9093.
        data_dir: Holds ``server.properties``, ``broker.log``, ``broker.pid`` and the partition
            data under ``data/`` (kept across restarts). Default
            ``${VIGIL_CACHE_DIR:-~/.cache/vigil}/kafka-data/<port>``.
        heap: JVM maximum heap (``-Xmx``), e.g. ``"1g"``. The initial heap is 256 MiB.
    """

    def __init__(self, port: int = 9092, controller_port: int = 9093,
                 data_dir: str | Path | None = None, heap: str = "1g") -> None:  # fmt: skip
        self.port = port
        self.controller_port = controller_port
        self.data_dir = Path(data_dir) if data_dir else cache_dir() / "kafka-data" / str(port)
        self.heap = heap
        self.ready_seconds: float | None = None  #: Seconds from process start to first metadata answer.
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers string for clients, e.g. ``"127.0.0.1:9092"``."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """The broker's stdout/stderr and log4j output."""
        return self.data_dir / "broker.log"

    @property
    def pidfile(self) -> Path:
        """Pid of the running broker, written at start and removed at stop."""
        return self.data_dir / "broker.pid"

    @property
    def _properties(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def pid(self) -> int | None:
        """Pid of the running broker (started here or found via the pidfile), else ``None``."""
        if self._proc is not None:
            return self._proc.pid if self._proc.poll() is None else None
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:  # the pid may have been reused: check it is this data dir's broker
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return None
        except OSError:  # no /proc (macOS): trust the pidfile
            return pid if _alive(pid) else None
        return pid if b"kafka.Kafka" in args and str(self._properties).encode() in args else None

    def is_running(self) -> bool:
        """Whether the broker process is alive (not whether it answers yet)."""
        return self.pid is not None

    def rss_bytes(self) -> int | None:
        """Resident memory of the broker process in bytes (Linux only), else ``None``."""
        pid = self.pid
        with contextlib.suppress(OSError, AttributeError, ValueError):
            status = Path(f"/proc/{pid}/status").read_text()
            return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) * 1024  # type: ignore[index]
        return None

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "data").mkdir(exist_ok=True)
        p, c = self.port, self.controller_port
        self._properties.write_text(
            f"# Written by streams/localkafka.py on each start; edits are overwritten.\n"
            f"process.roles=broker,controller\nnode.id=1\n"
            f"controller.quorum.voters=1@127.0.0.1:{c}\n"
            f"listeners=PLAINTEXT://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}\n"
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{p}\n"
            "controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n"
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
            f"log.dirs={self.data_dir / 'data'}\n"
            "auto.create.topics.enable=false\nnum.partitions=1\ndefault.replication.factor=1\n"
            "min.insync.replicas=1\ngroup.initial.rebalance.delay.ms=0\n"
            "offsets.topic.replication.factor=1\noffsets.topic.num.partitions=4\n"
            "transaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\n"
            "transaction.state.log.num.partitions=4\n"
            "share.coordinator.state.topic.replication.factor=1\n"
            "share.coordinator.state.topic.min.isr=1\n"
            "num.network.threads=2\nnum.io.threads=4\n",  # 2-core machines: fewer idle threads
            encoding="utf-8",
        )
        (self.data_dir / "log4j2.properties").write_text(_resource("log4j2.properties"), "utf-8")

    def _java(self, libs: Path, *args: str) -> list[str]:
        log4j = f"-Dlog4j2.configurationFile=file:{self.data_dir / 'log4j2.properties'}"
        return [find_java(), "-Djava.awt.headless=true", log4j, "-cp", f"{libs}/*", *args]

    def _format(self, libs: Path) -> None:
        if (self.data_dir / "data" / "meta.properties").exists():
            return  # already formatted: keep the cluster id and the data
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        cmd = self._java(libs, "-Xmx256m", "kafka.tools.StorageTool", "format", "-t", cluster_id,
                         "-c", str(self._properties), "--ignore-formatted")  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise KafkaRuntimeError(
                f"Formatting Kafka storage in {self.data_dir / 'data'} failed "
                f"(exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}"
            )

    def start(self, timeout: float = 90.0, *, wait: bool = True, detach: bool = False) -> LocalKafka:
        """Fetch jars if needed, write config, format storage once, and start the broker.

        Args:
            timeout: Seconds to wait for the first metadata answer (if ``wait``).
            wait: Return only once the broker answers (:meth:`wait_ready`).
            detach: Leave the broker running when this Python process exits (the pidfile lets
                ``stop`` find it later). Otherwise an exit handler stops it.

        Raises:
            KafkaRuntimeError: Java/Maven missing, a port in use, or the broker did not come up.
        """
        if self.is_running():
            raise KafkaRuntimeError(
                f"A Kafka broker already runs from {self.data_dir} (pid {self.pid}); stop it with "
                f"`python -m streams.localkafka stop --port {self.port}`"
            )
        libs = ensure_jars()
        find_java()
        for port in (self.port, self.controller_port):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    raise KafkaRuntimeError(
                        f"Port {port} on 127.0.0.1 is already in use: stop what holds it or "
                        "choose others with --port/--controller-port"
                    )
        self._write_config()
        self._format(libs)
        if self.log_path.exists() and self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
            self.log_path.replace(self.log_path.with_suffix(".log.1"))
        cmd = self._java(libs, "-Xms256m", f"-Xmx{self.heap}", "-XX:+ExitOnOutOfMemoryError",
                         "kafka.Kafka", str(self._properties))  # fmt: skip
        with self.log_path.open("ab") as log:
            log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {cmd}\n".encode())
            log.flush()
            # Own session: a Ctrl-C in the terminal reaches Python, which then stops the broker.
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, cwd=self.data_dir,
                                          start_new_session=True)  # fmt: skip
        self._started_at = time.monotonic()
        self.pidfile.write_text(f"{self._proc.pid}\n")
        if not detach:
            atexit.register(self._stop_at_exit)
        if wait:
            try:
                self.wait_ready(timeout)
            except BaseException:
                self.stop(timeout=10)
                raise
        return self

    def _stop_at_exit(self) -> None:
        if self._proc is not None:
            self.stop(timeout=15)

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Block until the broker answers a metadata request.

        Returns:
            Seconds from process start to the first answer (also kept in :attr:`ready_seconds`).

        Raises:
            KafkaRuntimeError: The broker exited or did not answer within ``timeout`` seconds;
                the message ends with the last lines of the broker log.
        """
        deadline = time.monotonic() + timeout
        while True:
            if not self.is_running():
                code = "" if self._proc is None else f" with code {self._proc.returncode}"
                raise KafkaRuntimeError(
                    f"The Kafka broker exited{code} while starting; last lines of "
                    f"{self.log_path}:\n{_tail(self.log_path)}"
                )
            reason = probe(self.bootstrap, timeout=max(1.0, min(5.0, deadline - time.monotonic())))
            if reason is None:
                self.ready_seconds = time.monotonic() - self._started_at
                return self.ready_seconds
            if time.monotonic() >= deadline:
                raise KafkaRuntimeError(
                    f"The Kafka broker at {self.bootstrap} did not answer a metadata request "
                    f"within {timeout:.0f} s ({reason}); last lines of {self.log_path}:\n"
                    f"{_tail(self.log_path)}"
                )
            time.sleep(0.2)

    def _signal_and_wait(self, sig: signal.Signals, timeout: float) -> bool:
        pid = self.pid
        if pid is None:
            return True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)  # the broker leads its own process group (start_new_session)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker gracefully (SIGTERM), or with SIGKILL after ``timeout`` seconds."""
        if not self._signal_and_wait(signal.SIGTERM, timeout):
            self._signal_and_wait(signal.SIGKILL, 10)
        self._forget()

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would; data stays for :meth:`restart`."""
        self._signal_and_wait(signal.SIGKILL, 10)
        self._forget()

    def _forget(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)
            self._proc = None
        atexit.unregister(self._stop_at_exit)
        self.pidfile.unlink(missing_ok=True)

    def restart(self, timeout: float = 90.0) -> LocalKafka:
        """Stop (if running) and start again on the same ports and data."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> LocalKafka:
        return self if self.is_running() else self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.stop()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m streams.localkafka {fetch,start,stop,status} [options]``."""
    parser = argparse.ArgumentParser(prog="python -m streams.localkafka",
                                     description=f"Run a local Apache Kafka {KAFKA_VERSION} broker.")  # fmt: skip
    parser.add_argument("command", choices=["fetch", "start", "stop", "status"])
    parser.add_argument("--port", type=int, default=9092, help="client port (default 9092)")
    parser.add_argument("--controller-port", type=int, help="KRaft controller port (default port+1)")
    parser.add_argument("--data-dir", type=Path, help="default $VIGIL_CACHE_DIR/kafka-data/<port>")
    parser.add_argument("--heap", default="1g", help="JVM max heap (default 1g)")
    parser.add_argument("--detach", action="store_true", help="start: return once ready")
    args = parser.parse_args(argv)
    cport = args.controller_port or args.port + 1
    kafka = LocalKafka(args.port, cport, args.data_dir, args.heap)
    try:
        if args.command == "fetch":
            print(f"Kafka {KAFKA_VERSION} jars in {ensure_jars()}")
        elif args.command == "start":
            signal.signal(signal.SIGTERM, _raise_interrupt)
            kafka.start(detach=args.detach)
            print(f"Kafka {KAFKA_VERSION} ready at {kafka.bootstrap} in {kafka.ready_seconds:.1f} s "
                  f"(pid {kafka.pid}, log {kafka.log_path})", flush=True)  # fmt: skip
            if args.detach:
                return 0
            print("Press Ctrl-C to stop.", flush=True)
            try:
                code = kafka._proc.wait() if kafka._proc else 0
            except KeyboardInterrupt:
                kafka.stop()
                print("Kafka stopped.")
                return 0
            kafka._forget()
            raise KafkaRuntimeError(f"The Kafka broker exited with code {code}; last lines of "
                                    f"{kafka.log_path}:\n{_tail(kafka.log_path)}")  # fmt: skip
        elif args.command == "stop":
            pid = kafka.pid
            kafka.stop()
            print(f"Kafka at {kafka.bootstrap} stopped (pid {pid})." if pid
                  else f"No Kafka broker runs from {kafka.data_dir}.")  # fmt: skip
        else:
            if not kafka.is_running():
                print(f"not running (would be {kafka.bootstrap}, data {kafka.data_dir})")
                return 3
            reason = probe(kafka.bootstrap, timeout=3.0)
            print(f"running at {kafka.bootstrap} (pid {kafka.pid}); metadata: {reason or 'ok'}")
    except KafkaRuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
