"""The docker-compose stack and the image, checked offline (no Docker engine needed).

Each test ties two files together that must agree for the stack to work: the compose file and the
compose spec, a bind mount and the repo, a scrape target and the service that listens there, the
image's entrypoint and the console script, a service's command and the CLI.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import click
import pytest
import yaml

from streams.cli import main as vigil_cli
from streams.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
PROMETHEUS_YML = REPO / "deploy" / "prometheus" / "prometheus.yml"
ALERTMANAGER_YML = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
DATASOURCES_YML = REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARDS_YML = REPO / "deploy" / "grafana" / "provisioning" / "dashboards" / "vigil.yml"
# Services built from this repo's Dockerfile (they run `vigil <command>`).
VIGIL_SERVICES = ("topics", "worker", "notifier", "simulator")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            rows.append((instruction.upper(), rest.strip()))
    return rows


def _instructions(dockerfile: list[tuple[str, str]], name: str) -> list[str]:
    return [rest for instruction, rest in dockerfile if instruction == name]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """``(source, container path)`` of every volume entry, short or long syntax."""
    mounts = []
    for volume in service.get("volumes", ()):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        mounts.append((source, target))
    return mounts


def _host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """The repo path that a container path of ``service`` comes from, through its bind mounts."""
    path = PurePosixPath(container_path)
    for source, target in _mounts(service):
        if source.startswith((".", "/")) and (path == PurePosixPath(target) or PurePosixPath(target) in path.parents):
            return (REPO / source / path.relative_to(target)).resolve()
    return None


def _container_ports(service: dict[str, Any]) -> set[int]:
    ports = set()
    for port in service.get("ports", ()):
        ports.add(int(str(port).rsplit(":", 1)[-1].split("/")[0]) if isinstance(port, str) else int(port["target"]))
    return ports


def _scrape_targets(config: dict[str, Any], job: str) -> set[str]:
    targets: set[str] = set()
    for scrape in config["scrape_configs"]:
        if scrape["job_name"] != job:
            continue
        for static in scrape.get("static_configs", ()):
            targets.update(static["targets"])
        for dns in scrape.get("dns_sd_configs", ()):
            targets.update(f"{name}:{dns['port']}" for name in dns["names"])
    return targets


def test_compose_file_matches_the_compose_spec() -> None:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    assert tool, "check-jsonschema is a dev dependency: pip install -e '.[dev]'"
    # The schema ships inside check-jsonschema: no network needed.
    run = subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _compose_cli() -> list[str] | None:
    standalone = shutil.which("docker-compose")
    if standalone:
        version = subprocess.run([standalone, "version"], capture_output=True, text=True).stdout
        if not version.startswith("docker-compose version 1."):  # v1 knows an older file format
            return [standalone]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return None


@pytest.mark.skipif(_compose_cli() is None, reason="no Docker Compose v2 CLI here (the schema test above still runs)")
def test_compose_cli_loads_the_file_and_requires_the_pseudonym_key(tmp_path: Path) -> None:
    cli = [*(_compose_cli() or []), "--project-directory", str(REPO), "-f", str(COMPOSE_FILE), "--profile", "demo"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    missing = subprocess.run([*cli, "config", "--quiet"], capture_output=True, text=True, env=env, timeout=60)
    assert missing.returncode != 0 and "VIGIL_PSEUDONYM_KEY" in missing.stderr
    env["VIGIL_PSEUDONYM_KEY"] = "k" * 32
    loaded = subprocess.run([*cli, "config", "--quiet"], capture_output=True, text=True, env=env, timeout=60)
    assert loaded.returncode == 0, loaded.stderr


def test_bind_mounts_exist_and_named_volumes_are_declared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name, service in services.items():
        for source, target in _mounts(service):
            assert PurePosixPath(target).is_absolute(), f"{name}: {target}"
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name} mounts {source}, which is not in the repo"
            else:
                assert source in (compose.get("volumes") or {}), f"{name}: volume {source} is not declared"


def test_rule_files_and_templates_resolve_through_the_mounts(services: dict[str, dict[str, Any]]) -> None:
    prometheus = yaml.safe_load(PROMETHEUS_YML.read_text())
    config_dir = PurePosixPath("/etc/prometheus")  # the image reads /etc/prometheus/prometheus.yml
    assert _host_path(services["prometheus"], str(config_dir / "prometheus.yml")) == PROMETHEUS_YML.resolve()
    assert prometheus.get("rule_files"), "no rule files"
    for pattern in prometheus["rule_files"]:
        host = _host_path(services["prometheus"], str(config_dir / pattern))
        assert host is not None, f"rule_files {pattern} is not under a mount of the prometheus service"
        assert list(host.parent.glob(host.name)), f"rule_files {pattern} matches no file in {host.parent}"

    alertmanager = yaml.safe_load(ALERTMANAGER_YML.read_text())
    config_dir = PurePosixPath("/etc/alertmanager")
    assert _host_path(services["alertmanager"], str(config_dir / "alertmanager.yml")) == ALERTMANAGER_YML.resolve()
    for pattern in alertmanager.get("templates", ()):
        host = _host_path(services["alertmanager"], str(config_dir / pattern))
        assert host is not None, f"template {pattern} is not under a mount of the alertmanager service"
        assert list(host.parent.glob(host.name)), f"template {pattern} matches no file in {host.parent}"


def test_prometheus_scrapes_the_worker_and_notifier_where_they_listen(services: dict[str, dict[str, Any]]) -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    targets = _scrape_targets(config, "vigil")
    worker, notifier = _env(services["worker"]), _env(services["notifier"])
    assert worker["VIGIL_WEB_HOST"] == notifier["VIGIL_WEB_HOST"] == "0.0.0.0"
    assert f"worker:{worker['VIGIL_WEB_PORT']}" in targets
    # The notifier is the only exporter of the crisis-notification metrics.
    assert f"notifier:{notifier['VIGIL_NOTIFIER_WEB_PORT']}" in targets
    for scrape in config["scrape_configs"]:
        for static in scrape.get("static_configs", ()):
            for target in static["targets"]:
                host = target.rsplit(":", 1)[0]
                assert host in services or host in ("localhost", "127.0.0.1"), f"{target}: no such service"


def test_prometheus_alerts_reach_the_alertmanager_service(services: dict[str, dict[str, Any]]) -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    targets = {t for am in config["alerting"]["alertmanagers"] for s in am["static_configs"] for t in s["targets"]}
    assert targets == {"alertmanager:9093"}
    assert 9093 in _container_ports(services["alertmanager"])
    for name in ("worker", "notifier"):
        assert _env(services[name])["VIGIL_ALERTMANAGER_URL"] == "http://alertmanager:9093"


def test_grafana_datasources_point_at_the_services(services: dict[str, dict[str, Any]]) -> None:
    sources = {s["type"]: s for s in yaml.safe_load(DATASOURCES_YML.read_text())["datasources"]}
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    assert 9090 in _container_ports(services["prometheus"])
    assert sources["alertmanager"]["url"] == "http://alertmanager:9093"
    scrape_interval = yaml.safe_load(PROMETHEUS_YML.read_text())["global"]["scrape_interval"]
    assert sources["prometheus"]["jsonData"]["timeInterval"] == scrape_interval


def test_grafana_mounts_provisioning_and_the_dashboards_it_provisions(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    assert _host_path(grafana, "/etc/grafana/provisioning/dashboards/vigil.yml") == DASHBOARDS_YML.resolve()
    assert _host_path(grafana, "/etc/grafana/provisioning/datasources/prometheus.yml") == DATASOURCES_YML.resolve()
    provider = yaml.safe_load(DASHBOARDS_YML.read_text())["providers"][0]
    dashboards = _host_path(grafana, provider["options"]["path"])
    assert dashboards == (REPO / "deploy" / "grafana" / "dashboards").resolve()
    home = _host_path(grafana, _env(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home is not None and home.is_file()


def test_every_image_is_pinned(services: dict[str, dict[str, Any]], dockerfile: list[tuple[str, str]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name}: no image"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for name in VIGIL_SERVICES:
        assert services[name]["image"] == f"vigil:{version}", f"{name}: tag the image with the project version"
        assert services[name]["build"] == "."
    for base in _instructions(dockerfile, "FROM"):
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", base.split()[0]), f"unpinned base image {base}"


def test_ports_are_published_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for port in service.get("ports", ()):
            host_ip = str(port).split(":")[0] if isinstance(port, str) else port.get("host_ip")
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond loopback"


def test_image_entrypoint_is_the_vigil_console_script(dockerfile: list[tuple[str, str]]) -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    (entrypoint,) = _instructions(dockerfile, "ENTRYPOINT")
    assert json.loads(entrypoint) == ["vigil"]
    assert scripts["vigil"] == "streams.cli:main"
    (cmd,) = _instructions(dockerfile, "CMD")
    assert json.loads(cmd) == ["worker"] and "worker" in vigil_cli.commands
    assert any(rest.startswith("pip install .") for rest in _instructions(dockerfile, "RUN"))


def test_image_runs_as_a_non_root_user_with_metrics_reachable(dockerfile: list[tuple[str, str]]) -> None:
    users = _instructions(dockerfile, "USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    env = " ".join(_instructions(dockerfile, "ENV"))
    assert "VIGIL_WEB_HOST=0.0.0.0" in env
    assert "6066" in " ".join(_instructions(dockerfile, "EXPOSE")).split()
    (healthcheck,) = _instructions(dockerfile, "HEALTHCHECK")
    assert "/metrics" in healthcheck
    # The lexicon is compiled at build time, after the switch to the user that runs the worker.
    names = [instruction for instruction, _ in dockerfile]
    lexicon = next(i for i, (ins, rest) in enumerate(dockerfile) if ins == "RUN" and "load_lexicon" in rest)
    assert names.index("USER") < lexicon


def test_dockerignore_keeps_what_the_image_copies(dockerfile: list[tuple[str, str]]) -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for copy in _instructions(dockerfile, "COPY"):
        for source in copy.split()[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: not in the repo"
            assert not any(fnmatch.fnmatch(source, p) for p in patterns), f".dockerignore excludes {source}"
    for needed in (".venv", ".git", "bench"):
        assert needed in patterns


def _parse_vigil(args: list[str]) -> click.Context:
    """Parse ``vigil <args>`` as the CLI would, without running it (unknown options raise)."""
    command: click.Command = vigil_cli
    words = list(args)
    while isinstance(command, click.Group):
        sub = command.get_command(click.Context(command), words[0])
        assert sub is not None, f"vigil has no command {' '.join(args)}"
        command, words = sub, words[1:]
    return command.make_context(f"vigil {' '.join(args)}", words)


def test_vigil_services_run_real_commands(services: dict[str, dict[str, Any]]) -> None:
    commands = {name: [str(word) for word in services[name]["command"]] for name in VIGIL_SERVICES}
    assert commands["worker"] == ["worker"]
    assert commands["notifier"] == ["notify"]
    assert commands["topics"][:2] == ["topics", "create"]
    assert commands["simulator"][0] == "ingest"
    for args in commands.values():
        _parse_vigil(args)
    partitions = _parse_vigil(commands["topics"]).params["partitions"]
    assert services["worker"]["deploy"]["replicas"] <= partitions


def test_simulator_reads_the_sample_stream_installed_with_the_package(
    services: dict[str, dict[str, Any]], dockerfile: list[tuple[str, str]]
) -> None:
    args = [str(word) for word in services["simulator"]["command"]]
    path = PurePosixPath(args[args.index("--input") + 1])
    python = re.search(r"python:(\d+\.\d+)\.", _instructions(dockerfile, "FROM")[0])
    assert python, "the image is not based on python:X.Y.Z"
    site = PurePosixPath(f"/usr/local/lib/python{python.group(1)}/site-packages")
    assert site in path.parents
    relative = path.relative_to(site)
    assert (REPO / relative).is_file()
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert any(
        fnmatch.fnmatch(str(relative.relative_to(relative.parts[0])), p) for p in package_data[relative.parts[0]]
    )
    assert services["simulator"]["profiles"] == ["demo"]


def test_stack_wiring(services: dict[str, dict[str, Any]]) -> None:
    kafka = _env(services["kafka"])
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in " ".join(services["kafka"]["healthcheck"]["test"])
    advertised = kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    for name in VIGIL_SERVICES:
        env = _env(services[name])
        assert f"PLAINTEXT://{env['VIGIL_KAFKA_BOOTSTRAP']}" in advertised
        assert env["VIGIL_PSEUDONYM_KEY"].startswith("${VIGIL_PSEUDONYM_KEY:?"), "the key must be required"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("worker", "notifier", "simulator"):
        assert services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_vigil_settings_accept_the_compose_environment(
    services: dict[str, dict[str, Any]], clean_env: pytest.MonkeyPatch
) -> None:
    for name in VIGIL_SERVICES:
        for key, value in _env(services[name]).items():
            clean_env.setenv(key, "k" * 32 if key == "VIGIL_PSEUDONYM_KEY" else value)
        settings = load_settings()
        assert settings.web_host == "0.0.0.0"
        settings.require_private_key()
