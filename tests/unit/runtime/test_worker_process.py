"""Waiting on a worker process that dies (issue 16, defect 10): "worker exited", not URLError."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipeline.runtime.broker import free_port
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerExited, WorkerProcess, wait_until_settled


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
