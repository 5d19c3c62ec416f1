"""A pipeline worker as a child process (``crisiswatch worker``), for the demo and the tests,
and reading its Prometheus metrics the way Prometheus does: over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from pipeline.runtime.settings import Settings


class WorkerExited(RuntimeError):
    """The worker process ended while we were waiting on it."""


class WorkerProcess:
    def __init__(self, settings: Settings, log_file: Path) -> None:
        self.settings = settings
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        # --without-web: faust's own web server is off; metrics are our endpoint, on
        # settings.metrics_host (127.0.0.1 unless configured).
        return [
            sys.executable,
            "-m",
            "pipeline.cli",
            "worker",
            "--loglevel",
            self.settings.log_level,
            "--without-web",
        ]

    def start(self) -> WorkerProcess:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                env=self.settings.child_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the demo's terminal is the demo's to handle
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> int | None:
        """Clean shutdown (SIGTERM), then SIGKILL if it does not exit in time."""
        return self._end(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """Crash: SIGKILL, no shutdown at all."""
        return self._end(signal.SIGKILL, 10.0)

    def _end(self, sig: signal.Signals, timeout: float) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            os.killpg(process.pid, sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout)
        return process.returncode

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the worker has used so far (/proc/PID/stat); 0 if gone."""
        pid = self.process.pid if self.process else None
        try:
            # The fields after the command name (which may hold spaces), from the 3rd on.
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def metrics(self) -> dict[str, float]:
        return read_metrics(self.settings.metrics_host, self.settings.metrics_port)

    def wait_for_metrics(self, timeout: float = 60.0) -> None:
        """Until the worker serves /metrics (it has started its agents)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise self.exited()
            try:
                self.metrics()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"worker metrics not up in {timeout}s") from None
                time.sleep(0.2)

    def exited(self) -> WorkerExited:
        code = self.process.returncode if self.process is not None else None
        return WorkerExited(f"worker exited (code {code}); see {self.log_file}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_until_settled(worker: WorkerProcess, sent: int, timeout: float) -> dict[str, float]:
    """Until ingest took ``sent`` messages, every routed post went through signals and every
    report through the detector; returns the worker's figures then. Polls /metrics."""
    deadline = time.monotonic() + timeout
    while True:
        if not worker.running:
            raise worker.exited()
        try:
            m = worker.metrics()
        except OSError:  # the worker just died (checked above), or a slow answer: try again
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
            continue
        figures = {
            "received": m.get("crisiswatch_posts_received_total", 0.0),
            "processed": m.get("crisiswatch_posts_processed_total", 0.0),
            "dead_lettered": m.get("crisiswatch_posts_dead_lettered_total", 0.0),
            "routed": m.get("crisiswatch_subject_posts_total", 0.0),
            "signals": m.get("crisiswatch_signals_posts_total", 0.0),
            "reports": m.get("crisiswatch_signals_emitted_total", 0.0),
            "detected": m.get("crisiswatch_detector_reports_total", 0.0),
            # What signals took: learnt, held (waiting to confirm their event time), or
            # dead-lettered; what the detector could not process.
            "learnt": m.get('crisiswatch_model_updates_total{model="spread"}', 0.0),
            "held": m.get("crisiswatch_signals_held_posts", 0.0),
            "signals_dead_lettered": m.get(
                'crisiswatch_dead_lettered_total{reason="future_timestamp",stage="signals"}', 0.0
            )
            + m.get(
                'crisiswatch_dead_lettered_total{reason="processing_error",stage="signals"}', 0.0
            ),
            "detector_dead_lettered": m.get(
                'crisiswatch_dead_lettered_total{reason="processing_error",stage="detector"}', 0.0
            ),
        }
        done = figures["processed"] + figures["dead_lettered"] >= sent
        if (
            done
            and figures["signals"] >= figures["routed"]
            and (figures["detected"] >= figures["reports"])
        ):
            return figures
        if time.monotonic() > deadline:
            raise TimeoutError(f"pipeline did not finish in {timeout}s: {figures}")
        time.sleep(0.5)


def cpu_seconds(workers: Iterable[WorkerProcess]) -> float:
    """User + system CPU seconds the workers have used so far, together."""
    return sum(w.cpu_seconds() for w in workers)


def read_metrics(
    host: str, port: int, timeout: float = 5.0, names: Iterable[str] = ()
) -> dict[str, float]:
    """Sample name (with labels) -> value; also each sample name's total over its labels.
    ``names``: only these metrics (the exporter renders just them: a poll that costs the
    worker microseconds instead of milliseconds)."""
    query = urllib.parse.urlencode([("name[]", name) for name in names])
    url = f"http://{host}:{port}/metrics" + (f"?{query}" if query else "")
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text = response.read().decode()
    values: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] += sample.value
            if labels:
                values[sample.name] += sample.value
    return dict(values)
