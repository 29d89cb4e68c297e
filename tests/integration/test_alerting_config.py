"""Vigil's alerting configuration, checked with the real tools.

``promtool`` validates the compose Prometheus config and the rules and runs the rule unit tests
(``deploy/prometheus/tests``); ``amtool`` validates the Alertmanager config, resolves routes and
renders the message templates; a real Alertmanager on loopback ports shows that a per-post
critical alert reaches its team's webhook and Slack at once and that inhibition holds back what it
should (and nothing else). The binaries come from the Debian packages ``prometheus`` and
``prometheus-alertmanager`` (``make host``); a missing one fails the test with that hint.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
PROMETHEUS_YML = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "rules" / "vigil.rules.yml"
RULE_TESTS = PROMETHEUS_DIR / "tests" / "vigil.rules.test.yml"
RUNBOOKS = PROMETHEUS_DIR / "RUNBOOKS.md"
ALERTMANAGER_DIR = REPO / "deploy" / "alertmanager"
ALERTMANAGER_YML = ALERTMANAGER_DIR / "alertmanager.yml"
TEMPLATES = ALERTMANAGER_DIR / "templates"

RUNBOOK_BASE = "https://github.com/vigil-health/vigil/blob/main/README.md"
#: The placeholder every webhook in alertmanager.yml starts with; tests replace it with their port.
HOOK_PLACEHOLDER = "http://127.0.0.1:9099"
SEVERITIES = {"critical", "high", "warning"}
TEAMS = {"community", "ops", "pharmacovigilance"}
#: level:metric:operation, each part snake_case.
RECORDING_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not on PATH: install the Debian packages prometheus and prometheus-alertmanager "
            "with `make host` (bash deploy/setup-host.sh)",
            pytrace=False,
        )
    return path


def _run(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool(args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{' '.join(done.args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def alerts(rules: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules if "alert" in rule}


# --- Prometheus --------------------------------------------------------------------------------


def test_prometheus_config_is_valid_and_scrapes_vigil_every_15s() -> None:
    _ok(_run("promtool", "check", "config", str(PROMETHEUS_YML)))
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"] == "15s"
    (vigil,) = [job for job in config["scrape_configs"] if job["job_name"] == "vigil"]
    assert vigil.get("metrics_path", "/metrics") == "/metrics"
    assert "worker:6066" in {t for static in vigil["static_configs"] for t in static["targets"]}
    managers = {t for am in config["alerting"]["alertmanagers"] for s in am["static_configs"] for t in s["targets"]}
    assert managers == {"alertmanager:9093"}
    assert config["rule_files"] == ["rules/*.rules.yml"]
    assert RULES in set(PROMETHEUS_DIR.glob(config["rule_files"][0]))


def test_rules_are_valid() -> None:
    _ok(_run("promtool", "check", "rules", str(RULES)))


def test_rule_unit_tests_pass() -> None:
    out = _ok(_run("promtool", "test", "rules", str(RULE_TESTS)))
    assert "SUCCESS" in out


def test_every_alert_has_a_firing_and_a_non_firing_unit_test(alerts: dict[str, dict[str, Any]]) -> None:
    suite = yaml.safe_load(RULE_TESTS.read_text())
    assert [(RULE_TESTS.parent / f).resolve() for f in suite["rule_files"]] == [RULES.resolve()]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in suite["tests"]:
        for check in case.get("alert_rule_test", ()):
            name = check["alertname"]
            assert name in alerts, f"test {case.get('name')!r} checks {name}, which no rule defines"
            (firing if check.get("exp_alerts") else quiet).add(name)
    assert set(alerts) - firing == set(), "alerts without a firing case"
    assert set(alerts) - quiet == set(), "alerts without a non-firing case"


def test_the_share_ratio_has_recording_rule_checks() -> None:
    suite = yaml.safe_load(RULE_TESTS.read_text())
    exprs = [check["expr"] for case in suite["tests"] for check in case.get("promql_expr_test", ())]
    assert any("drug_community:vigil_crisis_share:ratio5m" in e for e in exprs)
    assert any("drug_community:vigil_crisis_share:ratio1h" in e for e in exprs)


def test_alerts_follow_the_house_style(alerts: dict[str, dict[str, Any]]) -> None:
    expected = {
        "CrisisConversationSpike",
        "CrisisVolumeSustained",
        "CriticalPostDetected",
        "AdverseEventSurge",
        "VigilPipelineStalled",
        "VigilDeadLettersRising",
        "VigilConsumerLagHigh",
        "VigilWorkerDown",
        "VigilCrisisNotifierFailing",
    }
    assert expected <= set(alerts)
    for name, rule in alerts.items():
        assert re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+", name), f"{name} is not CamelCase"
        assert "for" in rule, f"{name} has no explicit `for:`"
        labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
        assert labels.get("severity") in SEVERITIES, f"{name}: severity {labels.get('severity')!r}"
        assert labels.get("team") in TEAMS, f"{name}: team {labels.get('team')!r}"
        for key in ("summary", "description", "runbook_url"):
            assert annotations.get(key), f"{name} has no {key} annotation"
        assert annotations["runbook_url"] == f"{RUNBOOK_BASE}#{name.lower()}"
        if labels["team"] == "community":
            # The Alertmanager templates print it: the numbers behind the alert.
            assert annotations.get("counts"), f"{name} has no counts annotation"
    assert alerts["CriticalPostDetected"]["for"] == "0m"


def test_every_runbook_anchor_has_a_section(alerts: dict[str, dict[str, Any]]) -> None:
    headings = set(re.findall(r"^### (\S+)\s*$", RUNBOOKS.read_text(), flags=re.MULTILINE))
    # VigilCriticalPost is sent by the notifier (streams/notifier.py), not by Prometheus.
    assert {*alerts, "VigilCriticalPost"} <= headings


def test_recording_rules_are_named_level_metric_operation(rules: list[dict[str, Any]]) -> None:
    names = [rule["record"] for rule in rules if "record" in rule]
    assert names, "no recording rules"
    bad = [name for name in names if not RECORDING_NAME.fullmatch(name)]
    assert bad == []
    assert len(names) == len(set(names))


# --- Alertmanager: config and routing ----------------------------------------------------------


def test_alertmanager_config_is_valid() -> None:
    out = _ok(_run("amtool", "check-config", str(ALERTMANAGER_YML)))
    assert "1 templates" in out  # the glob found deploy/alertmanager/templates/vigil.tmpl


@dataclass(frozen=True)
class RouteCase:
    id: str
    receiver: str
    labels: dict[str, str] = field(default_factory=dict)


ROUTE_CASES = [
    RouteCase(
        "critical-insulin-glargine-r-diabetes",
        "diabetes-critical",
        {
            "alertname": "CriticalPostDetected",
            "severity": "critical",
            "team": "community",
            "drug": "insulin glargine",
            "community": "r/diabetes",
        },
    ),
    RouteCase(
        "spike-adalimumab",
        "immunology-high",
        {
            "alertname": "CrisisConversationSpike",
            "severity": "high",
            "team": "community",
            "drug": "adalimumab",
            "community": "r/CrohnsDisease",
        },
    ),
    RouteCase(
        "spike-semaglutide-community-with-spaces",
        "diabetes-high",
        {
            "alertname": "CrisisConversationSpike",
            "severity": "high",
            "team": "community",
            "drug": "semaglutide",
            "community": "T1D Parents (Facebook group)",
        },
    ),
    RouteCase(
        "critical-methotrexate",
        "immunology-critical",
        {
            "alertname": "CriticalPostDetected",
            "severity": "critical",
            "team": "community",
            "drug": "methotrexate",
            "community": "r/rheumatoid",
        },
    ),
    RouteCase(
        "sustained-lisdexamfetamine-no-community",
        "mental-health-high",
        {"alertname": "CrisisVolumeSustained", "severity": "high", "team": "community", "drug": "lisdexamfetamine"},
    ),
    RouteCase(
        "spike-drug-not-mapped",
        "community-general-high",
        {
            "alertname": "CrisisConversationSpike",
            "severity": "high",
            "team": "community",
            "drug": "gabapentin",
            "community": "r/epilepsy",
        },
    ),
    RouteCase(
        "critical-drug-other",
        "community-general-critical",
        {
            "alertname": "CriticalPostDetected",
            "severity": "critical",
            "team": "community",
            "drug": "other",
            "community": "other",
        },
    ),
    # Regex matchers are anchored: a name that only contains a mapped one is not mapped.
    RouteCase(
        "spike-drug-containing-a-mapped-name",
        "community-general-high",
        {
            "alertname": "CrisisConversationSpike",
            "severity": "high",
            "team": "community",
            "drug": "lithium-free",
            "community": "r/bipolar",
        },
    ),
    RouteCase(
        "per-post-insulin-lispro",
        "diabetes-critical",
        {
            "alertname": "VigilCriticalPost",
            "severity": "critical",
            "team": "community",
            "drug": "insulin lispro",
            "community": "r/diabetes_t1",
            "platform": "reddit",
            "post_ref": "p-3f9a",
        },
    ),
    RouteCase(
        "per-post-sertraline",
        "mental-health-critical",
        {
            "alertname": "VigilCriticalPost",
            "severity": "critical",
            "team": "community",
            "drug": "sertraline",
            "community": "r/mentalhealth",
            "platform": "x",
            "post_ref": "p-77c1",
        },
    ),
    RouteCase(
        "per-post-no-drug",
        "community-general-critical",
        {
            "alertname": "VigilCriticalPost",
            "severity": "critical",
            "team": "community",
            "drug": "none",
            "community": "other",
            "platform": "forum",
            "post_ref": "p-0b2e",
        },
    ),
    RouteCase(
        "adverse-event-surge",
        "pharmacovigilance",
        {"alertname": "AdverseEventSurge", "severity": "warning", "team": "pharmacovigilance", "drug": "semaglutide"},
    ),
    RouteCase(
        "ops-critical", "ops", {"alertname": "VigilWorkerDown", "severity": "critical", "team": "ops", "job": "vigil"}
    ),
    RouteCase(
        "ops-warning",
        "ops",
        {"alertname": "VigilConsumerLagHigh", "severity": "warning", "team": "ops", "job": "vigil"},
    ),
    RouteCase("no-team", "vigil-default", {"alertname": "SomethingElse", "severity": "warning"}),
]


def _route_args(labels: dict[str, str]) -> list[str]:
    return [f"{key}={json.dumps(value)}" for key, value in labels.items()]


@pytest.mark.parametrize("case", ROUTE_CASES, ids=lambda c: c.id)
def test_route(case: RouteCase) -> None:
    done = _run(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_YML}",
        f"--verify.receivers={case.receiver}",
        *_route_args(case.labels),
    )
    assert done.returncode == 0, f"expected {case.receiver}, got {done.stdout.strip()!r}\n{done.stderr}"


def test_every_alert_reaches_a_team_receiver(alerts: dict[str, dict[str, Any]]) -> None:
    for name, rule in alerts.items():
        labels = {"alertname": name, **rule["labels"], "drug": "insulin", "community": "r/diabetes"}
        out = _ok(_run("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_YML}", *_route_args(labels)))
        assert out.strip() and "vigil-default" not in out, f"{name} falls through to {out.strip()!r}"


def _leaf_routes(
    route: dict[str, Any], inherited: dict[str, Any], path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    settings = {
        **inherited,
        **{
            k: route[k]
            for k in ("receiver", "group_by", "group_wait", "group_interval", "repeat_interval")
            if k in route
        },
    }
    path = (*path, *route.get("matchers", ()))
    children = route.get("routes", ())
    if not children:
        yield path, settings
    for child in children:
        yield from _leaf_routes(child, settings, path)


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration))


def test_routing_timings_per_severity() -> None:
    config = yaml.safe_load(ALERTMANAGER_YML.read_text())
    leaves = list(_leaf_routes(config["route"], {}, ()))
    per_post = [s for path, s in leaves if 'alertname="VigilCriticalPost"' in path]
    assert len(per_post) == 4, "one per-post route per community team"
    for settings in per_post:
        # Each post is its own group (no grouping) and notifies at once.
        assert settings["group_by"] == ["..."]
        assert settings["group_wait"] == "0s"
        assert settings["receiver"].endswith("-critical")
    for path, settings in leaves:
        if 'team="community"' in path and 'severity="critical"' in path:
            assert _seconds(settings["group_wait"]) <= 5, path
            assert settings["receiver"].endswith("-critical"), path
            assert _seconds(settings["repeat_interval"]) <= 3600, path
        if 'team="community"' in path and 'severity="high"' in path:
            # CrisisConversationSpike fires <= 90 s after a burst starts: 30 s left of its 120 s.
            assert _seconds(settings["group_wait"]) <= 30, path
            assert settings["receiver"].endswith("-high"), path
        if 'team="community"' in path:
            assert settings["group_by"] in (["..."], ["alertname", "drug", "community"]), path


def test_receivers_use_placeholders_and_the_vigil_templates() -> None:
    config = yaml.safe_load(ALERTMANAGER_YML.read_text())
    kinds: set[str] = set()
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", ()):
            assert hook["url"] == f"{HOOK_PLACEHOLDER}/hook/{receiver['name']}"
            kinds.add("webhook")
        for slack in receiver.get("slack_configs", ()):
            assert "vigil.slack.text" in slack["text"] and "vigil.slack.title" in slack["title"]
            kinds.add("slack")
        for email in receiver.get("email_configs", ()):
            assert "vigil.email.html" in email["html"] and "vigil.email.subject" in email["headers"]["Subject"]
            assert email["to"].endswith("@example.invalid")
            kinds.add("email")
    assert kinds == {"webhook", "slack", "email"}
    assert config["global"]["smtp_smarthost"].split(":")[0].endswith(".invalid")


# --- Alertmanager: message templates ------------------------------------------------------------


def _notification(alert: dict[str, Any], receiver: str) -> dict[str, Any]:
    """A ``template.Data`` for one firing alert, as Alertmanager passes it to the templates."""
    labels = alert["labels"]
    return {
        "receiver": receiver,
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "startsAt": "2025-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "0",
                **alert,
            }
        ],
        "groupLabels": {k: labels[k] for k in ("alertname", "drug", "community") if k in labels},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager:9093",
    }


SPIKE = {
    "labels": {
        "alertname": "CrisisConversationSpike",
        "severity": "high",
        "team": "community",
        "drug": "insulin",
        "community": "T1D Parents (Facebook group)",
    },
    "annotations": {
        "summary": "Crisis conversation spike about insulin in T1D Parents (Facebook group)",
        "description": "33.33% of the last 5 minutes' posts about insulin ...",
        "counts": "13 crisis posts of 39 posts in 5 min; crisis share the hour before: 4.762%",
        "runbook_url": f"{RUNBOOK_BASE}#crisisconversationspike",
    },
    "generatorURL": "http://prometheus:9090/graph?g0.expr=spike",
}


def _render(tmp_path: Path, data: dict[str, Any], name: str, kind: str = "text") -> str:
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    return _ok(
        _run(
            "amtool",
            "template",
            "render",
            f"--template.glob={TEMPLATES}/*.tmpl",
            f"--template.type={kind}",
            f"--template.text={{{{ template {json.dumps(name)} . }}}}",
            f"--template.data={data_file}",
        )
    )


def test_messages_name_drug_community_counts_and_links(tmp_path: Path) -> None:
    data = _notification(SPIKE, "diabetes-high")
    title = _render(tmp_path, data, "vigil.slack.title")
    assert title == "[FIRING:1] CrisisConversationSpike · insulin · T1D Parents (Facebook group)"
    assert _render(tmp_path, data, "vigil.email.subject") == title
    for text in (_render(tmp_path, data, "vigil.slack.text"), _render(tmp_path, data, "vigil.email.text")):
        assert "Drug: insulin" in text
        assert "Community: T1D Parents (Facebook group)" in text
        assert "Counts: 13 crisis posts of 39 posts in 5 min" in text
        assert "Dashboard: http://localhost:3000/d/vigil-overview" in text
        assert f"Runbook: {RUNBOOK_BASE}#crisisconversationspike" in text
        assert "Source: http://prometheus:9090/graph?g0.expr=spike" in text
    html = _render(tmp_path, data, "vigil.email.html", kind="html")
    assert "Community: T1D Parents (Facebook group)" in html
    assert "13 crisis posts of 39 posts" in html
    assert 'href="http://localhost:3000/d/vigil-overview"' in html
    assert _render(tmp_path, data, "vigil.slack.color") == "warning"


def test_ops_messages_link_the_pipeline_dashboard(tmp_path: Path) -> None:
    alert = {
        "labels": {
            "alertname": "VigilWorkerDown",
            "severity": "critical",
            "team": "ops",
            "job": "vigil",
            "instance": "worker:6066",
        },
        "annotations": {
            "summary": "Vigil worker worker:6066 is down",
            "description": "...",
            "runbook_url": f"{RUNBOOK_BASE}#vigilworkerdown",
        },
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
    }
    data = _notification(alert, "ops")
    text = _render(tmp_path, data, "vigil.slack.text")
    assert "Dashboard: http://localhost:3000/d/vigil-pipeline" in text
    assert "Drug:" not in text and "Counts:" not in text
    assert _render(tmp_path, data, "vigil.slack.color") == "danger"


# --- A real Alertmanager: per-post alerts, inhibition -------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Sink(ThreadingHTTPServer):
    """Records every POST (path, JSON body, arrival time): the webhook and the Slack endpoint."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any], float]] = []
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:
                body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
                with self.lock:
                    self.received.append((handler.path, json.loads(body or b"{}"), time.monotonic()))
                handler.send_response(200)
                handler.end_headers()
                handler.wfile.write(b"ok")

            def log_message(handler, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def posts(self, path: str) -> list[tuple[dict[str, Any], float]]:
        with self.lock:
            return [(body, at) for p, body, at in self.received if p == path]

    def wait(self, path: str, count: int, timeout: float) -> list[tuple[dict[str, Any], float]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(found := self.posts(path)) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"{len(self.posts(path))} of {count} notifications at {path} within {timeout} s: {self.received}"
        )


@pytest.fixture
def sink() -> Iterator[_Sink]:
    server = _Sink()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def alertmanager(tmp_path: Path, sink: _Sink) -> Iterator[str]:
    """A real Alertmanager on a loopback port with the committed config, its endpoints rewritten:
    webhooks and Slack to the sink, SMTP to a closed port. Returns its base URL."""
    binary = _tool("prometheus-alertmanager")
    sink_url = f"http://127.0.0.1:{sink.server_address[1]}"
    config = ALERTMANAGER_YML.read_text()
    slack_url = yaml.safe_load(config)["global"]["slack_api_url"]
    smarthost = yaml.safe_load(config)["global"]["smtp_smarthost"]
    config = config.replace(HOOK_PLACEHOLDER, sink_url).replace(slack_url, f"{sink_url}/slack")
    config = config.replace(smarthost, f"127.0.0.1:{_free_port()}")
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    (tmp_path / "alertmanager.yml").write_text(config)
    port = _free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"alertmanager exited {proc.returncode}:\n{(tmp_path / 'alertmanager.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"alertmanager not ready in 30 s:\n{(tmp_path / 'alertmanager.log').read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _post_alerts(base: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"{base}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _critical_post_alert(post_ref: str, drug: str, community: str) -> dict[str, Any]:
    """The alert `vigil notify` sends for one critical post, built by the notifier's own code."""
    from prometheus_client import CollectorRegistry

    from streams.metrics import VigilMetrics
    from streams.notifier import critical_alert

    metrics = VigilMetrics(CollectorRegistry(), [drug], [community])
    post = {
        "id": "not-sent",
        "platform": "reddit",
        "community": community,
        "author": {"id": "author-pseudonym"},
        "drugs": [{"generic": drug, "status": "current"}],
        "crisis": {"level": "critical", "score": 9, "reasons": [{"rule": "self_harm_intent", "level": "critical"}]},
    }
    return critical_alert(
        post,
        post_ref=post_ref,
        metrics=metrics,
        link_template="http://localhost:3000/d/vigil-overview?var-post={post_ref}",
    )


def test_each_critical_post_reaches_its_team_at_once(alertmanager: str, sink: _Sink) -> None:
    first = _critical_post_alert("p-1111", "insulin glargine", "r/diabetes")
    second = _critical_post_alert("p-2222", "insulin glargine", "r/diabetes")
    assert {k: first["labels"][k] for k in ("alertname", "severity", "team")} == {
        "alertname": "VigilCriticalPost",
        "severity": "critical",
        "team": "community",
    }
    sent = time.monotonic()
    _post_alerts(alertmanager, [first])
    _post_alerts(alertmanager, [second])
    hooks = sink.wait("/hook/diabetes-critical", 2, timeout=10)
    # No grouping: one notification per post, each with only its own alert, within seconds.
    refs = sorted(alert["labels"]["post_ref"] for body, _ in hooks for alert in body["alerts"])
    assert refs == ["p-1111", "p-2222"]
    assert all(len(body["alerts"]) == 1 for body, _ in hooks)
    assert max(at for _, at in hooks) - sent < 5
    slack = sink.wait("/slack", 2, timeout=10)
    for body, _ in slack:
        assert body["channel"] == "#vigil-diabetes"
        text = body["attachments"][0]["text"]
        assert "Drug: insulin glargine" in text and "Community: r/diabetes" in text and "Platform: reddit" in text
        assert "Post: http://localhost:3000/d/vigil-overview?var-post=p-" in text
        assert "[FIRING:1] VigilCriticalPost · insulin glargine · r/diabetes" in body["attachments"][0]["title"]
    assert sink.posts("/hook/vigil-default") == []


def _inhibitors(base: str) -> dict[str, list[str]]:
    with urllib.request.urlopen(f"{base}/api/v2/alerts", timeout=5) as response:
        listed = json.loads(response.read())
    return {
        "/".join(a["labels"].get(k, "") for k in ("alertname", "drug", "community")): a["status"]["inhibitedBy"]
        for a in listed
    }


def test_a_critical_alert_holds_back_high_alerts_of_its_community_only(alertmanager: str, sink: _Sink) -> None:
    def alert(name: str, severity: str, team: str, **labels: str) -> dict[str, Any]:
        return {
            "labels": {"alertname": name, "severity": severity, "team": team, **labels},
            "annotations": {"summary": name, "description": name, "runbook_url": f"{RUNBOOK_BASE}#{name.lower()}"},
        }

    _post_alerts(
        alertmanager,
        [
            alert("CriticalPostDetected", "critical", "community", drug="insulin", community="r/diabetes"),
            alert("CrisisConversationSpike", "high", "community", drug="semaglutide", community="r/diabetes"),
            alert("CrisisConversationSpike", "high", "community", drug="tirzepatide", community="r/Mounjaro"),
            alert("CrisisVolumeSustained", "high", "community", drug="insulin"),
            alert("VigilWorkerDown", "critical", "ops", job="vigil"),
            _critical_post_alert("p-3333", "tirzepatide", "r/Mounjaro"),
        ],
    )
    # Alertmanager marks inhibitions asynchronously: on a loaded machine, give it a moment.
    deadline = time.monotonic() + 20
    status = _inhibitors(alertmanager)
    while not status.get("CrisisConversationSpike/semaglutide/r/diabetes") and time.monotonic() < deadline:
        time.sleep(0.5)
        status = _inhibitors(alertmanager)
    assert status["CrisisConversationSpike/semaglutide/r/diabetes"], "same community: held back"
    # Another community; no community label; an ops alert; the per-post alert (1 h TTL) is no source.
    assert status["CrisisConversationSpike/tirzepatide/r/Mounjaro"] == []
    assert status["CrisisVolumeSustained/insulin/"] == []
    assert status["CriticalPostDetected/insulin/r/diabetes"] == []
    # The held-back spike never reaches the diabetes team; the others do (high: 10 s group_wait).
    sink.wait("/hook/diabetes-high", 2, timeout=25)
    time.sleep(1)
    high = sorted(
        (a["labels"]["alertname"], a["labels"]["drug"], a["labels"].get("community", ""))
        for body, _ in sink.posts("/hook/diabetes-high")
        for a in body["alerts"]
    )
    assert high == [("CrisisConversationSpike", "tirzepatide", "r/Mounjaro"), ("CrisisVolumeSustained", "insulin", "")]
    critical = {a["labels"]["alertname"] for body, _ in sink.posts("/hook/diabetes-critical") for a in body["alerts"]}
    assert critical == {"CriticalPostDetected", "VigilCriticalPost"}
    sink.wait("/hook/ops", 1, timeout=10)
