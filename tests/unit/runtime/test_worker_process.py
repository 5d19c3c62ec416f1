"""Waiting on a worker process that dies (issue 16, defect 10): "worker exited", not URLError."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from pipeline.runtime.broker import free_port
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import (
    WorkerExited,
    WorkerProcess,
    read_metrics,
    wait_until_settled,
)


class DyingWorker(WorkerProcess):
    """A real child process that lives a moment and exits with code 3, serving no metrics."""

    def command(self) -> list[str]:
        return [sys.executable, "-c", "import sys, time; time.sleep(0.5); sys.exit(3)"]


def test_waiting_on_a_worker_that_dies_says_it_exited(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, metrics_port=free_port())
    worker = DyingWorker(settings, tmp_path / "worker.log").start()
    try:
        with pytest.raises(WorkerExited, match=r"worker exited \(code 3\); see .*worker\.log"):
            wait_until_settled(worker, sent=10, timeout=30.0)
    finally:
        worker.stop()


def test_read_metrics_reads_only_the_named_metrics() -> None:
    """The bench polls one gauge every 10 ms: the exporter renders that one alone."""
    registry = CollectorRegistry()
    gauge = Gauge("crisiswatch_probe_gauge", "a gauge", ["stage"], registry=registry)
    gauge.labels(stage="detector").set(7.0)
    Counter("crisiswatch_probe_things", "a counter", registry=registry).inc(3)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        every = read_metrics("127.0.0.1", port)
        assert every['crisiswatch_probe_gauge{stage="detector"}'] == 7.0
        assert every["crisiswatch_probe_things_total"] == 3.0
        named = read_metrics("127.0.0.1", port, names=["crisiswatch_probe_gauge"])
        assert named == {
            'crisiswatch_probe_gauge{stage="detector"}': 7.0,
            "crisiswatch_probe_gauge": 7.0,
        }
    finally:
        server.shutdown()
        thread.join(timeout=5)
