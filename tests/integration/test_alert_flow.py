"""Proven live: Kafka -> worker -> Prometheus -> Alertmanager -> a community manager's webhook.

Real processes on loopback: the session Kafka broker, `vigil worker`, `vigil notify`, Prometheus
(1 s scrape and evaluation, the repository's own rules) and Alertmanager (the repository's own
routing, webhooks pointed at a receiver this test runs). A burst of crisis posts ingested with
`vigil ingest` must make CrisisConversationSpike reach the webhook; a single critical post must
reach it through the per-post path; every dashboard panel's query must return data.
Latencies are printed (and recorded as test properties) for the closing note; nothing is timed.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from vigil_ingest import run_ingest

from processors import Pseudonymizer
from streams.localkafka import free_port
from streams.settings import DEMO_PSEUDONYM_KEY

ROOT = Path(__file__).resolve().parents[2]


class Webhook:
    """A community manager's inbox: records every Alertmanager notification with its arrival time."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append((time.time(), self.path, json.loads(body or b"{}")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first(self, alertname: str, **labels: str) -> tuple[float, str, dict[str, Any]] | None:
        for arrived, path, body in self.received:
            for alert in body.get("alerts", ()):
                if alert["labels"].get("alertname") == alertname and all(
                    alert["labels"].get(k) == v for k, v in labels.items()
                ):
                    return arrived, path, alert
        return None

    def close(self) -> None:
        self.server.shutdown()


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"{' or '.join(names)} is not installed: run `bash deploy/setup-host.sh` (make setup does)")


def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, Webhook]]:
    webhook = Webhook()
    config = (ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text()
    config = config.replace("http://127.0.0.1:9099", f"http://127.0.0.1:{webhook.port}")
    config = config.replace("templates/", str(ROOT / "deploy" / "alertmanager" / "templates") + "/")
    (tmp_path / "alertmanager.yml").write_text(config)
    port = free_port()
    proc = subprocess.Popen(
        [
            _binary("prometheus-alertmanager", "alertmanager"),
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=(tmp_path / "alertmanager.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/-/ready")
        yield f"http://127.0.0.1:{port}", webhook
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        webhook.close()


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[..., str]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(targets: list[str], alertmanager_url: str) -> str:
        port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [alertmanager_url.removeprefix("http://")]}]}]
            },
            "rule_files": [str(ROOT / "deploy" / "prometheus" / "rules" / "*.rules.yml")],
            "scrape_configs": [{"job_name": "vigil", "static_configs": [{"targets": targets}]}],
        }
        (tmp_path / "prometheus.yml").write_text(json.dumps(config))
        procs.append(
            subprocess.Popen(
                [
                    _binary("prometheus"),
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=(tmp_path / "prometheus.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        _wait_http(f"http://127.0.0.1:{port}/-/ready")
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=20)


def _query(prometheus: str, expr: str) -> list[Any]:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", (expr, body)
    result = body["data"]["result"]
    return result if isinstance(result, list) else [result]


def _post(i: int, tag: str, text: str, community: str = "r/diabetes", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{tag}-{i}",
        "text": text,
        "platform": "reddit",
        "community": community,
        "thread_id": f"{tag}-thread-{i % 5}",
        "author": {"id": f"u-{tag}-{i}", "handle": f"@h{i}", "followers": 40},
        "engagement": {"views": 300, "likes": 12, "replies": 3, "shares": 0},
        **extra,
    }


def _panel_queries() -> list[tuple[str, str, str]]:
    spec = importlib.util.spec_from_file_location("vigil_dashboards", ROOT / "deploy" / "grafana" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["vigil_dashboards"] = module
    spec.loader.exec_module(module)
    return list(module.panel_queries())


def test_crisis_burst_and_critical_post_reach_the_community_manager(
    kafka: str,
    worker_factory: Callable[..., Any],
    alertmanager: tuple[str, Webhook],
    prometheus_factory: Callable[..., str],
    tmp_path: Path,
    record_property: Callable[[str, Any], None],
) -> None:
    am_url, webhook = alertmanager
    worker = worker_factory(alertmanager_url=am_url)
    notifier_port = free_port()
    notifier_env = {
        **worker.env,
        "VIGIL_NOTIFIER_WEB_PORT": str(notifier_port),
        "VIGIL_APP_ID": worker.env["VIGIL_APP_ID"],
    }
    notifier = subprocess.Popen(
        [sys.executable, "-m", "streams", "notify"],
        env=notifier_env,
        stdout=(tmp_path / "notifier.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_http(f"http://127.0.0.1:{notifier_port}/metrics", timeout=120)
        prometheus = prometheus_factory([f"127.0.0.1:{worker.web_port}", f"127.0.0.1:{notifier_port}"], am_url)
        tag = uuid.uuid4().hex[:8]

        # A calm baseline first, so the spike has something to stand out from.
        calm = [
            _post(i, tag, "week 3 on lantus, sugars finally behaving. anyone else find the pen easier than vials?")
            for i in range(20)
        ]
        (tmp_path / "calm.jsonl").write_text("\n".join(json.dumps(p) for p in calm) + "\n")
        run_ingest(kafka, tmp_path / "calm.jsonl")
        time.sleep(8)

        # The per-post critical path: one post, straight to Alertmanager.
        # (another community: a critical alert silences high ones in its own community, by design)
        critical = _post(
            999,
            tag,
            "I took the whole bottle of my insulin pens tonight. I don't want to be here anymore",
            community="r/diabetes_t1",
        )
        (tmp_path / "critical.jsonl").write_text(json.dumps(critical) + "\n")
        sent_critical = time.time()
        run_ingest(kafka, tmp_path / "critical.jsonl")
        deadline = time.time() + 60
        post_ref = Pseudonymizer(DEMO_PSEUDONYM_KEY.encode())(critical["id"])
        while time.time() < deadline and webhook.first("VigilCriticalPost", post_ref=post_ref) is None:
            time.sleep(0.2)
        hit = webhook.first("VigilCriticalPost", post_ref=post_ref)
        assert hit is not None, "the critical post reached the community manager's webhook"
        arrived, path, alert = hit
        critical_latency = arrived - sent_critical
        assert path.endswith("diabetes-critical"), f"routed to the diabetes team's critical receiver, got {path}"
        blob = json.dumps(alert)
        assert (
            critical["text"][:20] not in blob
            and critical["author"]["handle"] not in blob
            and critical["author"]["id"] not in blob
        )

        # A burst of high-crisis posts in one community: the spike alert.
        burst_text = "cutting my lantus in half til payday, 2 pens left and the pharmacy says backorder. scared"
        burst = [_post(100 + i, tag, burst_text) for i in range(30)]
        (tmp_path / "burst.jsonl").write_text("\n".join(json.dumps(p) for p in burst) + "\n")
        burst_start = time.time()
        run_ingest(kafka, tmp_path / "burst.jsonl")
        deadline = time.time() + 240
        while time.time() < deadline and webhook.first("CrisisConversationSpike") is None:
            time.sleep(0.5)
        hit = webhook.first("CrisisConversationSpike")
        if hit is None:  # say why, from Prometheus itself
            for expr in (
                'ALERTS{alertname="CrisisConversationSpike"}',
                'drug_community:vigil_crisis_share:ratio5m{community="r/diabetes"}',
                'drug_community:vigil_posts:rate5m{community="r/diabetes"} * 300',
                'sum by (level, drug) (vigil_crisis_posts_total{community="r/diabetes"})',
            ):
                print(expr, _query(prometheus, expr))
        assert hit is not None, "the crisis spike reached the community manager's webhook"
        spike_latency = hit[0] - burst_start
        assert hit[2]["labels"]["community"] == "r/diabetes"
        assert hit[2]["labels"]["drug"] == "insulin glargine"

        # Every dashboard panel's query returns data from this live Prometheus.
        empty = [(uid, title, expr) for uid, title, expr in _panel_queries() if not _query(prometheus, expr)]
        assert not empty, f"panels without data: {empty}"
    finally:
        notifier.terminate()
        notifier.wait(timeout=30)
    print(
        f"\nper-post critical latency {critical_latency:.2f} s; spike latency {spike_latency:.1f} s (1 s scrape/eval)"
    )
    record_property("critical_latency_s", round(critical_latency, 2))
    record_property("spike_latency_s", round(spike_latency, 1))
