"""Static checks of the compose deployment (no Docker, no network).

docker-compose.yml, the worker image, the Prometheus config and the Grafana provisioning refer
to each other and to the code (settings, topic names, metric names) only by strings; these
tests keep the strings in step.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

import pipeline.runtime.metrics
from pipeline.runtime import topics
from pipeline.runtime.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "crisiswatch.yml"
DASHBOARDS = GRAFANA / "dashboards"

REQUIRED_SERVICES = {"kafka", "topics", "worker", "prometheus", "grafana"}
LOOPBACK = "127.0.0.1"
METRIC_NAME = re.compile(r"crisiswatch_[a-z_]+")


# --- helpers ---------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE_FILE)
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    assert isinstance(data.get("services"), dict), "docker-compose.yml has no services"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, from either compose syntax (mapping or KEY=VALUE list)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = [item.split("=", 1) for item in env]
        return {p[0]: p[1] if len(p) == 2 else "" for p in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def setting_env_names() -> set[str]:
    return {
        ENV_PREFIX + f.name.upper()
        for f in dataclasses.fields(Settings)
        if not f.name.startswith("_")
    }


def worker_settings(services: dict[str, dict[str, Any]]) -> Settings:
    return Settings.from_env(environment(services["worker"]))


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of every bind mount of a service (named volumes left out)."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) >= 2 and parts[0].startswith((".", "/", "~")):
                mounts.append((parts[0], parts[1]))
        elif volume.get("type") == "bind":
            mounts.append((volume["source"], volume["target"]))
    return mounts


def mount_target_of(service: dict[str, Any], source: Path) -> str:
    for src, target in bind_mounts(service):
        if (ROOT / src).resolve() == source.resolve():
            return target
    raise AssertionError(f"{source.relative_to(ROOT)} is not mounted")


def topic_creations(service: dict[str, Any]) -> dict[str, int]:
    """topic -> partitions of every `kafka-topics.sh --create` in the service's command."""
    command = service.get("command") or ""
    script = command if isinstance(command, str) else "\n".join(map(str, command))
    created = {}
    for line in script.splitlines():
        if "--create" not in line:
            continue
        topic = re.search(r"--topic[\s=]+(\S+)", line)
        partitions = re.search(r"--partitions[\s=]+(\d+)", line)
        assert topic and partitions, f"--create without --topic/--partitions: {line.strip()}"
        assert "--if-not-exists" in line, f"not idempotent: {line.strip()}"
        created[topic.group(1)] = int(partitions.group(1))
    return created


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Panels, including those nested in collapsed rows."""
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(all_panels(panel.get("panels") or []))
    return found


def datasource_uid(datasource: Any) -> Any:
    return datasource.get("uid") if isinstance(datasource, dict) else datasource


def provisioned_datasource_uid() -> str:
    datasources = load_yaml(DATASOURCES)["datasources"]
    assert len(datasources) == 1
    uid = datasources[0]["uid"]
    assert isinstance(uid, str)
    return uid


def defined_metric_names() -> set[str]:
    """Sample names the worker exposes, from the collectors defined in pipeline.runtime.metrics."""
    names = set()
    for obj in vars(pipeline.runtime.metrics).values():
        if isinstance(obj, Counter):
            # prometheus_client strips "_total" from a Counter's name and adds it on exposure.
            names.add(obj._name + "_total")
        elif isinstance(obj, Histogram):
            names.update(obj._name + suffix for suffix in ("_bucket", "_count", "_sum"))
        elif isinstance(obj, MetricWrapperBase):
            names.add(obj._name)
    return names


# --- compose ---------------------------------------------------------------------------------


def test_required_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert services.keys() >= REQUIRED_SERVICES, REQUIRED_SERVICES - services.keys()


def test_bind_mount_sources_exist(services: dict[str, dict[str, Any]]) -> None:
    checked = 0
    for name, service in services.items():
        for source, _target in bind_mounts(service):
            path = (ROOT / source).resolve()
            assert path.is_relative_to(ROOT), f"{name}: {source} is outside the repository"
            assert path.exists(), f"{name}: bind-mount source {source} does not exist"
            checked += 1
    assert checked >= 3  # prometheus config, grafana provisioning and dashboards


def test_build_contexts_and_dockerfiles_exist(services: dict[str, dict[str, Any]]) -> None:
    built = {name: s["build"] for name, s in services.items() if "build" in s}
    assert "worker" in built
    for name, build in built.items():
        if isinstance(build, str):
            build = {"context": build}
        context = (ROOT / build.get("context", ".")).resolve()
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
    assert (ROOT / ".dockerignore").is_file()


def test_published_ports_are_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    published = 0
    for name, service in services.items():
        for port in service.get("ports") or []:
            published += 1
            if isinstance(port, dict):
                assert port.get("host_ip") == LOOPBACK, f"{name}: {port} not bound to {LOOPBACK}"
            else:
                assert str(port).startswith(LOOPBACK + ":"), f"{name}: {port} not on {LOOPBACK}"
                assert str(port).count(":") == 2, f"{name}: {port} has no host port"
    assert published >= 2  # prometheus and grafana


def test_worker_can_be_scaled(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports"), "a fixed host port stops `--scale worker=N`"


def test_worker_environment_names_real_settings(services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["worker"])
    ours = {key for key in env if key.startswith(ENV_PREFIX)}
    assert ours, "worker sets no CRISISWATCH_* variable"
    unknown = ours - setting_env_names()
    assert not unknown, f"not fields of pipeline.runtime.settings.Settings: {sorted(unknown)}"


def test_worker_settings_reach_kafka_and_prometheus(services: dict[str, dict[str, Any]]) -> None:
    settings = worker_settings(services)  # also checks the values convert
    assert settings.broker_url == "kafka://kafka:9092"
    assert settings.broker_profile == "kafka"
    assert settings.metrics_host == "0.0.0.0"
    assert settings.metrics_port > 0


def test_image_sets_only_real_settings_and_not_the_metrics_host() -> None:
    code = "\n".join(
        line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    names = set(re.findall(ENV_PREFIX + r"[A-Z_]+", code))
    assert names <= setting_env_names(), names - setting_env_names()
    # The image keeps the loopback default; compose opens it up for Prometheus.
    assert ENV_PREFIX + "METRICS_HOST" not in names
    assert re.search(r"^USER\s+(?!root\b|0\b)\S+", code, re.MULTILINE), "image runs as root"
    assert "[dev]" not in code


def test_startup_order(services: dict[str, dict[str, Any]]) -> None:
    assert services["kafka"].get("healthcheck"), "kafka has no healthcheck"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    worker_deps = services["worker"]["depends_on"]
    assert worker_deps["topics"]["condition"] == "service_completed_successfully"


def test_kafka_does_not_auto_create_topics(services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["kafka"])
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_topics_service_creates_the_pipeline_topics(services: dict[str, dict[str, Any]]) -> None:
    created = topic_creations(services["topics"])
    expected = {
        topics.POSTS_RAW,
        topics.POSTS,
        topics.POSTS_DLQ,
        topics.SIGNALS,
        topics.FEEDBACK,
        topics.ALERTS,
    }
    assert set(created) == expected


def test_topic_partitions_match_worker_settings(services: dict[str, dict[str, Any]]) -> None:
    created = topic_creations(services["topics"])
    settings = worker_settings(services)
    assert settings.topic_prefix == "", "the topics service creates unprefixed topics"
    assert created[topics.POSTS_RAW] == settings.raw_partitions
    for name in (topics.POSTS, topics.POSTS_DLQ, topics.SIGNALS, topics.FEEDBACK, topics.ALERTS):
        assert created[name] == settings.partitions, name


# --- prometheus ------------------------------------------------------------------------------


def test_prometheus_scrapes_every_worker(services: dict[str, dict[str, Any]]) -> None:
    assert (
        mount_target_of(services["prometheus"], PROMETHEUS_CONFIG)
        == "/etc/prometheus/prometheus.yml"
    )
    config = load_yaml(PROMETHEUS_CONFIG)
    metrics_port = worker_settings(services).metrics_port
    worker_jobs = [
        job
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs") or []
        if "worker" in sd["names"] and sd.get("type", "SRV") == "A" and sd["port"] == metrics_port
    ]
    assert len(worker_jobs) == 1, "no dns_sd_configs (type A) job for worker:<metrics port>"
    interval = worker_jobs[0].get(
        "scrape_interval", config.get("global", {}).get("scrape_interval")
    )
    assert interval == "5s"


# --- grafana ---------------------------------------------------------------------------------


def test_grafana_datasource_points_at_prometheus(services: dict[str, dict[str, Any]]) -> None:
    provisioning = GRAFANA / "provisioning"
    assert mount_target_of(services["grafana"], provisioning) == "/etc/grafana/provisioning"
    (datasource,) = load_yaml(DATASOURCES)["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["uid"] == "crisiswatch-prometheus"
    assert datasource["url"] == "http://prometheus:9090"


def test_grafana_dashboard_provider_reads_the_mounted_dashboards(
    services: dict[str, dict[str, Any]],
) -> None:
    providers = load_yaml(DASHBOARD_PROVIDERS)["providers"]
    assert providers, "no dashboard provider"
    target = mount_target_of(services["grafana"], DASHBOARDS)
    assert target == "/var/lib/grafana/dashboards"
    assert any(p["type"] == "file" and p["options"]["path"] == target for p in providers)


def test_dashboards_parse_and_use_the_provisioned_datasource() -> None:
    uid = provisioned_datasource_uid()
    files = dashboard_files()
    assert files, "no dashboard"
    for path in files:
        dashboard = json.loads(path.read_text())
        panels = [p for p in all_panels(dashboard["panels"]) if p.get("type") != "row"]
        assert panels, f"{path.name}: no panels"
        for panel in panels:
            assert datasource_uid(panel.get("datasource")) == uid, f"{path.name}: {panel['title']}"
            assert panel.get("targets"), f"{path.name}: {panel['title']} has no query"
            for target in panel["targets"]:
                if "datasource" in target:
                    assert datasource_uid(target["datasource"]) == uid, panel["title"]


def test_dashboard_metrics_exist() -> None:
    defined = defined_metric_names()
    assert "crisiswatch_posts_received_total" in defined
    for path in dashboard_files():
        dashboard = json.loads(path.read_text())
        used = {
            name
            for panel in all_panels(dashboard["panels"])
            for target in panel.get("targets") or []
            for name in METRIC_NAME.findall(target.get("expr", ""))
        }
        assert used, f"{path.name}: no crisiswatch metric used"
        assert used <= defined, f"{path.name}: unknown metrics {sorted(used - defined)}"
