"""Grafana dashboards: Grafana loads exactly what generate.py makes, and every panel query works.

The last test sends every panel's query to a real Prometheus (the Debian binary that `make setup`
installs, on a loopback port) scraping the metrics of a worker that has enriched the bundled
sample posts, and expects data back from each one.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from processors import Enricher, InvalidPost
from streams.metrics import VigilMetrics
from streams.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
SAMPLE = REPO / "streams" / "data" / "sample_posts.jsonl"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
UIDS = {"vigil-overview", "vigil-pipeline"}


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vigil_grafana_generate", GRAFANA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    """The committed dashboards, by file name."""
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(DASHBOARDS.glob("*.json"))}


def _targets(board: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in board["panels"]:
        for target in panel.get("targets", ()):
            yield panel, target


def test_generate_reproduces_the_committed_json_byte_for_byte(generator: ModuleType) -> None:
    generated = generator.dashboards()
    assert {p.name for p in DASHBOARDS.glob("*.json")} == set(generated), "stray or missing dashboard files"
    for name, board in generated.items():
        assert (DASHBOARDS / name).read_text(encoding="utf-8") == generator.render(board), (
            f"{name} differs from deploy/grafana/generate.py: run it and commit the result"
        )
    assert generator.main(["--check"]) == 0


def test_uids_are_stable_unique_and_name_the_files(boards: dict[str, dict[str, Any]]) -> None:
    uids = [board["uid"] for board in boards.values()]
    assert sorted(uids) == sorted(UIDS)
    for name, board in boards.items():
        assert name == f"{board['uid']}.json"
        assert board.get("id") is None, "a provisioned dashboard must not carry a database id"


def test_grafana_10_or_11_settings(boards: dict[str, dict[str, Any]]) -> None:
    for board in boards.values():
        assert 36 <= board["schemaVersion"] <= 41
        assert board["refresh"] == "10s"
        assert board["time"]["from"].startswith("now-") and board["time"]["to"] == "now"
        assert board["editable"] is False


def test_datasource_variable_is_used_by_every_panel_and_target(boards: dict[str, dict[str, Any]]) -> None:
    for board in boards.values():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        assert variables["datasource"]["current"] == {}, "the default datasource is chosen by Grafana, not pinned"
        for panel in board["panels"]:
            assert panel["datasource"] == DATASOURCE, panel["title"]
        for panel, target in _targets(board):
            assert target["datasource"] == DATASOURCE, panel["title"]


def test_no_datasource_uid_is_hard_coded(boards: dict[str, dict[str, Any]]) -> None:
    def uids(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if "uid" in node:
                yield node["uid"]
            for value in node.values():
                yield from uids(value)
        elif isinstance(node, list):
            for value in node:
                yield from uids(value)

    for board in boards.values():
        assert set(uids(board["panels"])) == {"${datasource}"}
        assert set(uids(board["templating"])) <= {"${datasource}"}


def test_every_panel_has_targets_with_expr_and_stable_ref_ids(boards: dict[str, dict[str, Any]]) -> None:
    for board in boards.values():
        titles = [p["title"] for p in board["panels"]]
        assert len(titles) == len(set(titles)), f"duplicate panel titles in {board['uid']}"
        assert [p["id"] for p in board["panels"]] == list(range(1, len(titles) + 1))
        for panel in board["panels"]:
            targets = panel["targets"]
            assert targets, f"{panel['title']} has no query"
            assert [t["refId"] for t in targets] == [chr(ord("A") + i) for i in range(len(targets))]
            for target in targets:
                assert isinstance(target["expr"], str) and target["expr"].strip(), panel["title"]
                # Plain PromQL: Prometheus (and the live test) can run it as written.
                assert "$" not in target["expr"], f"{panel['title']}: Grafana macro in {target['expr']!r}"


def test_panels_fit_the_grid_without_overlapping(boards: dict[str, dict[str, Any]]) -> None:
    for board in boards.values():
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
            area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
            assert not cells & area, f"{panel['title']} overlaps another panel"
            cells |= area


def test_every_vigil_metric_is_on_a_dashboard(boards: dict[str, dict[str, Any]]) -> None:
    exprs = " ".join(t["expr"] for board in boards.values() for _, t in _targets(board))
    registry = CollectorRegistry()
    VigilMetrics(registry, ["insulin"], ["r/diabetes"])
    names = {family.name for family in registry.collect()}
    assert names, "no metrics collected"
    missing = sorted(n for n in names if not re.search(rf"\b{n}(_total|_bucket|_sum|_count)?\b", exprs))
    assert not missing, f"metrics on no dashboard: {missing}"
    assert 'ALERTS{alertstate="firing"}' in exprs
    assert 'up{job="vigil"}' in exprs


def test_panel_queries_lists_every_target(generator: ModuleType, boards: dict[str, dict[str, Any]]) -> None:
    queries = list(generator.panel_queries())
    expected = [(b["uid"], p["title"], t["expr"]) for b in boards.values() for p, t in _targets(b)]
    assert sorted(queries) == sorted(expected)
    assert {uid for uid, _, _ in queries} == UIDS


def test_provisioning_loads_the_dashboards_read_only() -> None:
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "vigil.yml").read_text())["providers"]
    assert len(providers) == 1
    provider = providers[0]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    assert provider["folder"] == "Vigil"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_provisioned_prometheus_datasource_is_the_default() -> None:
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"]
    defaults = [s for s in sources if s.get("isDefault")]
    assert len(defaults) == 1
    assert defaults[0]["type"] == "prometheus"
    assert defaults[0]["uid"] == "vigil-prometheus"
    assert defaults[0]["url"] == "http://prometheus:9090"


# --- every query against a real Prometheus ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(registry: CollectorRegistry) -> ThreadingHTTPServer:
    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _wait_for(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _process(enricher: Enricher, metrics: VigilMetrics, lines: list[bytes]) -> int:
    """What the worker's agent and the notifier record for one batch (streams/agents.py, notifier.py)."""
    started = time.perf_counter()
    enriched = 0
    for result in enricher.enrich_raw(lines):
        if isinstance(result, InvalidPost):
            metrics.record_dead_letter(result.code)
            continue
        metrics.record_post(result)
        enriched += 1
        if result["crisis"]["level"] == "critical":
            metrics.notifications.labels(outcome="sent").inc()
            metrics.notify_latency.observe(0.3)
    metrics.batch_duration.observe(time.perf_counter() - started)
    metrics.batch_size.observe(len(lines))
    for _ in lines:
        metrics.lag.observe(0.2)
    metrics.last_processed.set(time.time())
    metrics.consumer_lag.labels(partition="0").set(0)
    return enriched


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs the prometheus binary (make setup)")
def test_every_panel_query_returns_data_once_a_worker_has_processed_posts(
    generator: ModuleType, enricher: Enricher, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = load_settings()
    registry = CollectorRegistry()
    metrics = VigilMetrics(registry, settings.watch_list, settings.community_list)
    exporter = _serve(registry)
    port = _free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "vigil", "static_configs": [{"targets": [f"127.0.0.1:{exporter.server_address[1]}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    prometheus = subprocess.Popen(
        [
            shutil.which("prometheus") or "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Zeros first (pre-initialised series), then two batches on later scrapes, as a live worker would.
        _wait_for(lambda: _query(base, 'up{job="vigil"} == 1'), "the first scrape")
        lines = [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]
        half = len(lines) // 2
        first = _process(enricher, metrics, lines[:half])
        _wait_for(lambda: _query(base, f"sum(vigil_posts_processed_total) == {first}"), "the first batch")
        total = first + _process(enricher, metrics, lines[half:])
        _wait_for(lambda: _query(base, f"sum(vigil_posts_processed_total) == {total}"), "the second batch")

        problems = []
        for uid, title, expr in generator.panel_queries():
            try:
                if not _query(base, expr):
                    problems.append(f"{uid} / {title}: no data from {expr}")
            except urllib.error.HTTPError as exc:
                problems.append(f"{uid} / {title}: {exc.read().decode(errors='replace')}")
        assert not problems, "\n  ".join(["panel queries that failed:", *problems])
    finally:
        prometheus.terminate()
        try:
            prometheus.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prometheus.kill()
            prometheus.wait()
        log.close()
        exporter.shutdown()
        exporter.server_close()
