"""A real Prometheus (Debian's package) scrapes a worker that processed a replay: every PromQL
expression of the dashboards and alert rules is valid, and every dashboard query returns data.
The deploy files themselves pass promtool."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.runtime.broker import free_port, wait_for_port
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import wait_until_settled
from pipeline.tools.produce import produce_raw
from pipeline.tools.scenario import crisis_scenario, encoded

from .conftest import StartWorker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("prometheus") is None,
        reason="Debian prometheus not installed (make test does)",
    ),
]
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def dashboard_queries() -> list[str]:
    """Every panel query, with each template variable set to its "All" value as Grafana would."""
    queries: list[str] = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        variables = {v["name"]: v["allValue"] for v in dashboard["templating"]["list"]}
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for name, value in variables.items():
                    expr = expr.replace(f"${name}", value)
                assert "$" not in expr, f"unknown template variable in {path.name}: {expr}"
                queries.append(expr)
    return queries


def rule_queries() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def query(port: int, expr: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(json.loads(response.read()))


def test_promtool_accepts_the_deploy_files() -> None:
    subprocess.run(
        ["promtool", "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
        check=True,
        capture_output=True,
    )
    # The rules fire, and stay quiet, on the synthetic series of their unit tests.
    subprocess.run(
        ["promtool", "test", "rules", str(DEPLOY / "prometheus" / "alerts_test.yml")],
        check=True,
        capture_output=True,
    )
    # The compose config points at container paths; check it with the rules file beside it.
    subprocess.run(
        [
            "promtool",
            "check",
            "config",
            "--syntax-only",
            str(DEPLOY / "prometheus" / "prometheus.yml"),
        ],
        check=True,
        capture_output=True,
    )


async def test_every_dashboard_and_rule_query_works_on_a_real_prometheus(
    settings: Settings, start_worker: StartWorker, tmp_path: Path
) -> None:
    worker = await start_worker(settings)
    posts, _ = crisis_scenario()
    messages = encoded(posts)
    await produce_raw(settings, [*messages, b"{not json"])
    figures = await asyncio.to_thread(wait_until_settled, worker, len(messages) + 1, 120.0)
    assert figures["dead_lettered"] == 1

    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(DEPLOY / "prometheus" / "alerts.yml")],
        "scrape_configs": [
            {
                "job_name": "crisiswatch-worker",
                "static_configs": [{"targets": [f"127.0.0.1:{settings.metrics_port}"]}],
            }
        ],
    }
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        deadline = time.monotonic() + 60
        while True:  # bounded: until ready and several scrapes are in (rates need two)
            try:
                result = query(port, 'count_over_time(up{job="crisiswatch-worker"}[1m])')
                up = result["data"]["result"]
            except urllib.error.URLError:  # 503 while Prometheus starts up
                up = []
            if up and float(up[0]["value"][1]) >= 6:
                break
            assert time.monotonic() < deadline, "Prometheus did not scrape the worker"
            time.sleep(0.5)
        assert query(port, 'up{job="crisiswatch-worker"}')["data"]["result"][0]["value"][1] == "1"

        for expr in dashboard_queries():
            answer = query(port, expr)
            assert answer["status"] == "success", expr
            assert answer["data"]["result"], f"no data for dashboard query: {expr}"
        for expr in rule_queries():  # valid; a false condition is an empty result
            assert query(port, expr)["status"] == "success", expr
        # The crisis of the scenario resolved: nothing open now, but the series exist.
        open_now = query(port, "sum(crisiswatch_open_crises)")["data"]["result"]
        assert float(open_now[0]["value"][1]) == 0
        events = query(port, "sum by (state) (crisiswatch_alerts_emitted_total)")["data"]["result"]
        assert {e["metric"]["state"]: float(e["value"][1]) for e in events}["opened"] == 1
    finally:
        process.terminate()
        process.wait(10)
