"""User mistakes end a command with one line naming them and a non-zero exit, not a traceback.

Our commands derive from ``OneLineErrors``; a worker checks its metrics port and its broker
before faust starts it (``worker_preflight``). ``CRISISWATCH_LOG_LEVEL=debug`` keeps tracebacks.
"""

from __future__ import annotations

import functools
import socket
import time
from typing import Any, ClassVar

from aiokafka.errors import KafkaConnectionError, KafkaError
from faust.cli import AppCommand
from pydantic import ValidationError

from pipeline.runtime.app import app, settings
from pipeline.runtime.metrics import check_port_free
from pipeline.runtime.settings import Settings


class OneLineErrors(AppCommand):
    """Our commands end a user's mistake (a missing file, no broker, a bad value, a worker that
    died) with one line naming it and a non-zero exit, not a traceback; log level debug keeps
    the traceback."""

    # faust registers every AppCommand subclass as a command: a base must say it is abstract
    # (faust's own pattern), or `crisiswatch onelineerrors` is listed and runs nothing.
    abstract: ClassVar[bool] = True

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute(*args, **kwargs)
        except (OSError, KafkaError, ValueError, RuntimeError) as exc:
            if settings.log_level.lower() == "debug":
                raise
            raise SystemExit(f"crisiswatch {type(self).__name__}: {describe(exc)}") from None


#: The decorator of our commands (``pipeline/cli.py``, ``pipeline/cli_tools.py``).
command = functools.partial(app.command, base=OneLineErrors)


def describe(exc: BaseException) -> str:
    if isinstance(exc, KafkaConnectionError):
        return (
            f"no broker at {settings.resolved_broker_url()}: start one (crisiswatch broker) or "
            "set CRISISWATCH_BROKER_URL"
        )
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, ValidationError):  # its str() is a multi-line table
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "(record)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"not a valid {exc.title}: {where}: {first['msg']}{more}"
    return " ".join(str(exc).split()) or type(exc).__name__


def worker_preflight(settings: Settings) -> None:
    """Before joining the group: a worker that fails on its metrics port after joining makes
    the group rebalance twice for nothing, and one without a broker fails deep in aiokafka."""
    try:
        check_port_free(settings.metrics_host, settings.metrics_port)
    except OSError as exc:
        raise SystemExit(
            f"crisiswatch worker: metrics port {settings.metrics_host}:{settings.metrics_port} "
            f"is not free ({exc.strerror or exc}); set CRISISWATCH_METRICS_PORT (0: no endpoint)"
        ) from None
    if not broker_reachable(settings.bootstrap_servers(), wait_seconds=10.0):
        raise SystemExit(f"crisiswatch worker: {describe(KafkaConnectionError())}")


def broker_reachable(servers: list[str], wait_seconds: float) -> bool:
    """Whether any bootstrap server accepts a TCP connection within ``wait_seconds`` (a broker
    started at the same moment gets that long). Without one, faust's worker fails with a
    traceback from deep in aiokafka."""
    deadline = time.monotonic() + wait_seconds
    while True:
        for server in servers:
            host, _, port = server.rpartition(":")
            try:
                with socket.create_connection((host.strip("[]"), int(port)), timeout=2.0):
                    return True
            except (OSError, ValueError):
                continue
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
