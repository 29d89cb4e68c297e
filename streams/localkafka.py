"""A single-node Apache Kafka broker (KRaft) for local runs and integration tests, without Docker.

The broker's jars come from Maven Central, resolved once by ``mvn`` into a cache outside git
(``${VIGIL_CACHE_DIR:-~/.cache/vigil}/kafka-<version>/libs``), and run with the local ``java``. One process is
broker and controller, listens on 127.0.0.1 only, and never auto-creates topics.

    python -m streams.localkafka start --detach     # returns once the broker answers; also status, stop, fetch

    with LocalKafka(port, controller_port, data_dir=tmp) as kafka:
        ...  # clients use kafka.bootstrap == "127.0.0.1:<port>"
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

__all__ = ["KAFKA_VERSION", "LocalKafka", "cache_dir", "ensure_jars", "find_java", "free_port", "main", "probe"]

#: Apache Kafka version run locally; the jar versions themselves are pinned in ``streams/kafka/pom.xml``.
KAFKA_VERSION = "4.1.2"
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.7.1:copy-dependencies"
_ALTERNATIVE = "or set VIGIL_KAFKA_BOOTSTRAP to an existing broker"
_NO_JAVA = f"Java 17+ is needed to run the local Kafka broker: install it (Debian: apt-get install openjdk-17-jre-headless) {_ALTERNATIVE}"
_NO_MAVEN = f"Maven is needed once to fetch the Kafka jars from Maven Central: install it (Debian: apt-get install maven) {_ALTERNATIVE}"
_LOG_ROTATE_BYTES = 16 * 1024 * 1024
_SERVER_PROPERTIES = """\
# Written by streams/localkafka.py at each start: edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}{extra_listeners}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}{extra_advertised}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT{extra_protocols}
log.dirs={data}
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Sized for 2-core machines.
num.network.threads=2
num.io.threads=4
# After a kill, a restarted broker waits for its old session to expire (default 9 s).
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
"""
#: Appended when a SASL/SCRAM listener is asked for; the broker and controller keep PLAINTEXT.
_SCRAM_PROPERTIES = """# SASL_PLAINTEXT listener with SCRAM-SHA-512 (users are created when the storage is formatted).
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
"""
_SCRAM_VALUE = re.compile(r"^[A-Za-z0-9_.@-]+$")


def cache_dir() -> Path:
    """Vigil's download cache: ``$VIGIL_CACHE_DIR``, default ``~/.cache/vigil``."""
    return Path(os.environ.get("VIGIL_CACHE_DIR") or "~/.cache/vigil").expanduser()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (for tests: another process may take it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _resource(name: str) -> str:
    base = resources.files(__package__) if __package__ else Path(__file__).parent
    return (base / "kafka" / name).read_text(encoding="utf-8")


def _tail(path: Path, lines: int = 25) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 16384))
            return "\n".join(fh.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return f"({path} does not exist)"


@functools.cache
def find_java() -> str:
    """Return a Java 17+ ``java``: ``$JAVA_HOME/bin/java``, else the one on PATH.

    Raises:
        KafkaRuntimeError: No java, or one older than 17.
    """
    home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(home) / "bin" / "java") if home else "", shutil.which("java") or ""]
    java = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    if java is None:
        raise KafkaRuntimeError(_NO_JAVA)
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    major = 0 if match is None else int(match[2] if match[1] == "1" else match[1])
    if major < 17:
        raise KafkaRuntimeError(f"{java} is Java {major or '(unknown version)'}. {_NO_JAVA}")
    return java


def _jars_complete(libs: Path, marker: Path, digest: str) -> bool:
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return info.get("pom_sha256") == digest and all((libs / jar).is_file() for jar in info["jars"])


def ensure_jars(cache: Path | None = None) -> Path:
    """Fetch the pinned Kafka jars once; later calls only read a marker file (~1 ms).

    Args:
        cache: Cache root, default :func:`cache_dir`. Jars go to ``<cache>/kafka-<version>/libs``, Maven's local
            repository to ``<cache>/m2``.

    Returns:
        The directory holding the jars (``<dir>/*`` is the class path).

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
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test sessions fetch once, not N times
        if _jars_complete(libs, marker, digest):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaRuntimeError(_NO_MAVEN)
        (home / "pom.xml").write_text(pom, encoding="utf-8")
        shutil.rmtree(libs, ignore_errors=True)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(home / "pom.xml"),
            f"-Dmaven.repo.local={root / 'm2'}",
            _DEPENDENCY_PLUGIN,
            f"-DoutputDirectory={libs}",
        ]
        done = subprocess.run(cmd, cwd=home, capture_output=True, text=True)
        jars = sorted(p.name for p in libs.glob("*.jar"))
        if done.returncode != 0 or not any(jar.startswith("kafka_2.13-") for jar in jars):
            output = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
            raise KafkaRuntimeError(
                f"Fetching the Kafka {KAFKA_VERSION} jars from Maven Central failed (mvn exit {done.returncode}): "
                f"check network access and retry `python -m streams.localkafka fetch`.\n{output}"
            )
        marker.write_text(json.dumps({"pom_sha256": digest, "jars": jars}, indent=1))
    return libs


def probe(bootstrap: str, timeout: float = 5.0) -> str | None:
    """Send one metadata request to ``host:port``; return ``None`` if a broker answered, else why not."""
    host, _, port = bootstrap.rpartition(":")
    try:  # a cheap check first: the admin client logs errors while the port is shut
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        return f"connect failed: {exc}"
    from kafka import KafkaAdminClient  # late import: fetch/start/stop work without kafka-python loaded

    kafka_log, ms = logging.getLogger("kafka"), int(timeout * 1000)
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)  # a booting broker refuses for a while: expected, not news
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=ms, bootstrap_timeout_ms=ms)
        try:
            cluster = admin.describe_cluster()
        finally:
            admin.close()
    except Exception as exc:  # any failure only means "not ready yet"
        return f"{type(exc).__name__}: {exc}"
    finally:
        kafka_log.setLevel(level)
    return None if cluster.get("brokers") and cluster.get("controller_id", -1) != -1 else "no broker registered yet"


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child has exited: reap it
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class LocalKafka:
    """One Kafka broker+controller process on 127.0.0.1, with everything it writes in ``data_dir``.

    Args:
        port: Client (PLAINTEXT) port. Default 9092.
        controller_port: KRaft controller port. Default 9093.
        data_dir: Holds ``server.properties``, ``broker.log``, ``broker.pid`` and the partitions under ``data/``
            (kept across restarts). Default ``${VIGIL_CACHE_DIR:-~/.cache/vigil}/kafka-data/<port>``.
        heap: JVM maximum heap (``-Xmx``), default ``"1g"``; the initial heap is 256 MiB.
        sasl_scram: Also open a ``SASL_PLAINTEXT`` listener with SCRAM-SHA-512, for testing clients'
            authentication: ``{"username": ..., "password": ..., "port": ...}`` (``port`` optional, a free
            one by default; see :attr:`sasl_bootstrap`). The user is created when the data dir is first
            formatted. The ``PLAINTEXT`` listener on ``port`` stays, for the broker itself and for probes.
    """

    def __init__(
        self,
        port: int = 9092,
        controller_port: int = 9093,
        data_dir: str | Path | None = None,
        heap: str = "1g",
        sasl_scram: dict[str, str | int] | None = None,
    ) -> None:
        self.port, self.controller_port, self.heap = port, controller_port, heap
        self.sasl_scram = dict(sasl_scram) if sasl_scram else None
        self.sasl_port: int | None = None  #: Port of the SASL_PLAINTEXT listener, when there is one.
        if self.sasl_scram is not None:
            for name in ("username", "password"):
                if not _SCRAM_VALUE.match(str(self.sasl_scram.get(name, ""))):
                    raise ValueError(f"sasl_scram[{name!r}] must be non-empty letters, digits or '_.@-'")
            self.sasl_port = int(self.sasl_scram.get("port") or free_port())
        self.data_dir = Path(data_dir) if data_dir else cache_dir() / "kafka-data" / str(port)
        self.log_path = self.data_dir / "broker.log"  #: The broker's stdout, stderr and log4j output.
        self.pidfile = self.data_dir / "broker.pid"  #: Written at start, removed at stop.
        self.ready_seconds: float | None = None  #: Seconds from process start to the first metadata answer.
        self._properties = self.data_dir / "server.properties"
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers for clients, e.g. ``"127.0.0.1:9092"``."""
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str | None:
        """Bootstrap servers of the SASL_PLAINTEXT/SCRAM-SHA-512 listener (``None`` without ``sasl_scram``)."""
        return None if self.sasl_port is None else f"127.0.0.1:{self.sasl_port}"

    @property
    def pid(self) -> int | None:
        """Pid of the live broker (started here, or found through the pidfile), else ``None``."""
        if self._proc is not None:
            return self._proc.pid if self._proc.poll() is None else None
        try:
            pid = int(self.pidfile.read_text().split()[0])
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            return None
        # The pid may have been reused since: check that it is this data dir's broker.
        return pid if b"kafka.Kafka" in args and str(self._properties).encode() in args else None

    def is_running(self) -> bool:
        """Whether the broker process is alive (not whether it answers yet: see :meth:`wait_ready`)."""
        return self.pid is not None

    def rss_bytes(self) -> int | None:
        """Resident memory of the broker process in bytes, else ``None``."""
        with contextlib.suppress(OSError, TypeError):
            status = Path(f"/proc/{self.pid}/status").read_text()
            return int(re.findall(r"VmRSS:\s+(\d+) kB", status)[0]) * 1024
        return None

    def _java(self, libs: Path, *args: str) -> list[str]:
        log4j = f"-Dlog4j2.configurationFile=file:{self.data_dir / 'log4j2.properties'}"
        return [find_java(), "-Djava.awt.headless=true", log4j, "-cp", f"{libs}/*", *args]

    def _prepare(self, libs: Path) -> None:
        """Write the configs and, on first use of the data dir, format the storage with a random cluster id."""
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        sasl = f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}" if self.sasl_port is not None else ""
        text = _SERVER_PROPERTIES.format(
            port=self.port,
            cport=self.controller_port,
            data=self.data_dir / "data",
            extra_listeners=f",{sasl}" if sasl else "",
            extra_advertised=f",{sasl}" if sasl else "",
            extra_protocols=",SASL_PLAINTEXT:SASL_PLAINTEXT" if sasl else "",
        )
        if sasl:
            text += _SCRAM_PROPERTIES
        self._properties.write_text(text, encoding="utf-8")
        (self.data_dir / "log4j2.properties").write_text(_resource("log4j2.properties"), encoding="utf-8")
        if (self.data_dir / "data" / "meta.properties").exists():
            return  # formatted before: keep the cluster id and the data
        cluster_id = _cluster_id()
        cmd = self._java(
            libs,
            "-Xmx256m",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self._properties),
            "--ignore-formatted",
        )
        if self.sasl_scram is not None:
            user, password = self.sasl_scram["username"], self.sasl_scram["password"]
            cmd += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise KafkaRuntimeError(
                f"Formatting Kafka storage in {self.data_dir / 'data'} failed "
                f"(exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}"
            )

    def start(self, timeout: float = 90.0, *, wait: bool = True, detach: bool = False) -> LocalKafka:
        """Fetch the jars if needed, write the config, format the storage once, and start the broker.

        Args:
            timeout: Seconds to wait for the first metadata answer.
            wait: Return only once the broker answers (:meth:`wait_ready`).
            detach: Leave the broker running when this Python process exits (``stop`` finds it through the
                pidfile). Otherwise an exit handler stops it.

        Raises:
            KafkaRuntimeError: Java or Maven missing, a port in use, or the broker did not come up.
        """
        if self.is_running():
            raise KafkaRuntimeError(
                f"A Kafka broker already runs from {self.data_dir} (pid {self.pid}): stop it "
                f"with `python -m streams.localkafka stop --port {self.port}`"
            )
        find_java()  # before the jar fetch: a missing Java is the more basic problem
        libs = ensure_jars()
        for port in (self.port, self.controller_port, *([self.sasl_port] if self.sasl_port is not None else [])):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    raise KafkaRuntimeError(
                        f"Port {port} on 127.0.0.1 is already in use: stop what holds it or "
                        "choose others with --port/--controller-port"
                    )
        self._prepare(libs)
        if self.log_path.exists() and self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
            self.log_path.replace(self.log_path.with_suffix(".log.1"))
        cmd = self._java(
            libs, "-Xms256m", f"-Xmx{self.heap}", "-XX:+ExitOnOutOfMemoryError", "kafka.Kafka", str(self._properties)
        )
        with self.log_path.open("ab") as log:
            log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} vigil starts: {' '.join(cmd)}\n".encode())
            log.flush()
            # Own session: a Ctrl-C in the terminal reaches Python only, which then stops the broker cleanly.
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
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
            KafkaRuntimeError: The broker exited, or did not answer within ``timeout`` seconds; the message ends
                with the last lines of the broker log.
        """
        deadline = time.monotonic() + timeout
        while True:
            if not self.is_running():
                code = "" if self._proc is None else f" with code {self._proc.returncode}"
                raise self._failure(f"The Kafka broker exited{code} while starting")
            reason = probe(self.bootstrap, timeout=max(1.0, min(5.0, deadline - time.monotonic())))
            if reason is None:
                self.ready_seconds = time.monotonic() - self._started_at
                return self.ready_seconds
            if time.monotonic() >= deadline:
                raise self._failure(
                    f"The Kafka broker at {self.bootstrap} did not answer a metadata request within {timeout:g} s "
                    f"({reason})"
                )
            time.sleep(0.2)

    def _failure(self, what: str) -> KafkaRuntimeError:
        return KafkaRuntimeError(f"{what}; last lines of {self.log_path}:\n{_tail(self.log_path)}")

    def _signal_and_wait(self, sig: signal.Signals, timeout: float) -> bool:
        pid = self.pid
        if pid is None:
            return True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)  # the broker leads its own process group (start_new_session)
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker cleanly (SIGTERM), or with SIGKILL after ``timeout`` seconds. No-op if not running."""
        if not self._signal_and_wait(signal.SIGTERM, timeout):
            self._signal_and_wait(signal.SIGKILL, 10)
        self._forget()

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would; the data stays for :meth:`restart`."""
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

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m streams.localkafka {fetch,start,stop,status} [options]``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m streams.localkafka", description=f"Local Apache Kafka {KAFKA_VERSION}"
    )
    parser.add_argument("command", choices=["fetch", "start", "stop", "status"])
    parser.add_argument("--port", type=int, default=9092, help="client port (default 9092)")
    parser.add_argument("--controller-port", type=int, help="KRaft controller port (default: port + 1)")
    parser.add_argument("--data-dir", type=Path, help="default: $VIGIL_CACHE_DIR/kafka-data/<port>")
    parser.add_argument("--heap", default="1g", help="JVM maximum heap (default 1g)")
    parser.add_argument("--detach", action="store_true", help="start: return once the broker answers")
    args = parser.parse_args(argv)
    kafka = LocalKafka(args.port, args.controller_port or args.port + 1, args.data_dir, args.heap)
    try:
        if args.command == "fetch":
            print(f"Kafka {KAFKA_VERSION} jars in {ensure_jars()}")
        elif args.command == "start":
            for sig in (signal.SIGTERM, signal.SIGHUP):  # stop the broker too, as for Ctrl-C
                signal.signal(sig, _interrupt)
            kafka.start(detach=args.detach)
            print(
                f"Kafka {KAFKA_VERSION} ready at {kafka.bootstrap} after {kafka.ready_seconds:.1f} s "
                f"(pid {kafka.pid}, log {kafka.log_path})",
                flush=True,
            )
            if args.detach:
                return 0
            print("Ctrl-C stops it.", flush=True)
            try:
                code = kafka._proc.wait() if kafka._proc else 0
            except KeyboardInterrupt:
                kafka.stop()
                print("Kafka stopped.")
                return 0
            kafka._forget()
            raise kafka._failure(f"The Kafka broker exited with code {code}")
        elif args.command == "stop":
            pid = kafka.pid
            kafka.stop()
            print(
                f"Kafka at {kafka.bootstrap} stopped (pid {pid})." if pid else f"No broker runs from {kafka.data_dir}."
            )
        elif not kafka.is_running():
            print(f"not running ({kafka.bootstrap}, data {kafka.data_dir})")
            return 3
        else:
            reason = probe(kafka.bootstrap, timeout=3.0)
            print(f"running at {kafka.bootstrap} (pid {kafka.pid}); metadata request: {reason or 'answered'}")
    except KafkaRuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def _cluster_id() -> str:
    """A random KRaft cluster id (base64url of 16 bytes) that does not start with "-".

    The storage tool reads "-t -Xy..." as an unknown option and fails (1 id in 64 starts with "-");
    Kafka's own ``Uuid.randomUuid`` draws again in that case too.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


if __name__ == "__main__":
    sys.exit(main())
