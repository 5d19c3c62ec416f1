"""Forward alerts to a webhook (chat tools, paging) as JSON, with retries, never blocking.

``submit`` only queues: the alert feed keeps reading however slow or dead the webhook is. A
sender task posts each alert (the Alert record's JSON, as on the topic) and retries connection
errors, timeouts, 429 and 5xx with exponential backoff; other 4xx answers are final. Nothing is
dropped silently: an alert that could not be delivered, or found the queue full, is logged
with its id and counted in ``stats``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp

from schemas import Alert

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class WebhookStats:
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    attempts: int = 0


class WebhookForwarder:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        max_attempts: int = 5,
        backoff: float = 0.5,
        queue_size: int = 10_000,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.stats = WebhookStats()
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WebhookForwarder:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={"Content-Type": "application/json", "User-Agent": "crisiswatch"},
        )
        self._task = asyncio.create_task(self._send_all())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def submit(self, alert: Alert) -> bool:
        try:
            self._queue.put_nowait(alert)
            return True
        except asyncio.QueueFull:
            self.stats.dropped += 1
            log.error(
                "webhook queue full: alert %s r%d not forwarded", alert.alert_id, alert.revision
            )
            return False

    async def close(self, drain_seconds: float = 10.0) -> None:
        """Deliver what is queued (for at most ``drain_seconds``), then stop."""
        if self._task is not None:
            try:
                await asyncio.wait_for(self._queue.join(), drain_seconds)
            except TimeoutError:
                left = self._queue.qsize()
                self.stats.dropped += left
                log.error("webhook: %d alerts still queued at shutdown, not forwarded", left)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send_all(self) -> None:
        while True:
            alert = await self._queue.get()
            try:
                if await self._deliver(alert):
                    self.stats.delivered += 1
                else:
                    self.stats.failed += 1
            finally:
                self._queue.task_done()

    async def _deliver(self, alert: Alert) -> bool:
        assert self._session is not None
        body = alert.to_bytes()
        for attempt in range(1, self.max_attempts + 1):
            self.stats.attempts += 1
            try:
                async with self._session.post(self.url, data=body) as response:
                    if 200 <= response.status < 300:
                        return True
                    problem = f"HTTP {response.status}"
                    if response.status not in RETRY_STATUSES:
                        log.error(
                            "webhook refused alert %s r%d: %s",
                            alert.alert_id,
                            alert.revision,
                            problem,
                        )
                        return False
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt < self.max_attempts:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        log.error(
            "webhook gave up on alert %s r%d after %d attempts: %s",
            alert.alert_id,
            alert.revision,
            self.max_attempts,
            problem,
        )
        return False
