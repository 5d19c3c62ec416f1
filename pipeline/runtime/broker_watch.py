"""Says clearly when the Kafka broker goes away and comes back, and re-creates the topics then.

While the broker is down, the Kafka clients (faust's and ours) retry on their own and log every
failed attempt (a hundred lines a second, none of which says "the broker is down"); the worker
keeps running. This service probes the bootstrap servers with a plain TCP connect and logs one
warning when they become unreachable, a reminder every ``remind_seconds``, and one when they are
back. On the way back it creates the pipeline's topics that are missing (``ensure_topics``): a
broker without durable storage (Tansu) comes back empty, and the worker's consumers then resume
on the new, empty topics. On a durable Kafka every topic still exists and nothing is created.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import mode

from pipeline.runtime import metrics

log = logging.getLogger(__name__)


async def reachable(servers: list[str], timeout: float) -> str | None:
    """None if one of ``host:port`` accepts a TCP connection, else the last error."""
    error = "no bootstrap servers"
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            error = f"{server}: {exc or type(exc).__name__}"
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return None
    return error


class BrokerWatch(mode.Service):
    def __init__(
        self,
        servers: Callable[[], list[str]],
        on_back: Callable[[], Awaitable[None]],
        interval: float = 1.0,
        remind_seconds: float = 30.0,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.servers = servers
        self.on_back = on_back
        self.interval = interval
        self.remind_seconds = remind_seconds
        self.down_since: float | None = None
        self._reminded = 0.0
        self._topics_pending = False

    @mode.Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            await self.check()
            await self.sleep(self.interval)

    async def check(self) -> None:
        servers = self.servers()
        error = await reachable(servers, timeout=min(2.0, self.interval * 2))
        now = time.monotonic()
        metrics.BROKER_REACHABLE.set(0 if error else 1)
        down = 0.0 if error is None or self.down_since is None else now - self.down_since
        metrics.BROKER_UNREACHABLE_SECONDS.set(down)
        if error is not None:
            if self.down_since is None:
                self.down_since = self._reminded = now
                log.warning(
                    "Kafka broker unreachable (%s): this worker keeps running and retries; "
                    "processing resumes when the broker is back",
                    error,
                )
            elif now - self._reminded >= self.remind_seconds:
                self._reminded = now
                log.warning(
                    "Kafka broker still unreachable after %.0f s (%s)", now - self.down_since, error
                )
            return
        if self.down_since is not None:
            down = now - self.down_since
            self.down_since = None
            self._topics_pending = True
            log.warning(
                "Kafka broker reachable again at %s after %.0f s down; creating any missing "
                "topics (a broker without durable storage lost them) and resuming",
                ",".join(servers),
                down,
            )
        if self._topics_pending:
            try:
                await self.on_back()
            except Exception as exc:  # the broker may still be starting: next check retries
                log.warning("could not re-create the topics yet (%r); retrying", exc)
                return
            self._topics_pending = False
            log.warning("topics in place; the worker resumes on the broker")
