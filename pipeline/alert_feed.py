"""Subscribing to the alerts topic as an ops team does, and showing alerts readably.

Delivery is at-least-once (DESIGN.md: no transactions on Tansu), so the feed drops an event it
has already seen: (alert_id, revision) names one event of one alert.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.text import Text

from pipeline.kafka import make_consumer, topic_names
from pipeline.settings import Settings
from schemas import Alert

_STYLE = {"low": "cyan", "medium": "yellow", "high": "bold red", "critical": "bold white on red"}
_STATE_STYLE = {"opened": "bold", "escalated": "bold magenta", "resolved": "green"}


class AlertDeduplicator:
    def __init__(self) -> None:
        self._seen: set[tuple[str, int]] = set()

    def is_new(self, alert: Alert) -> bool:
        key = (alert.alert_id, alert.revision)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


async def follow_alerts(
    settings: Settings,
    on_alert: Callable[[Alert], Any],
    *,
    from_beginning: bool = True,
    idle_timeout: float | None = None,
    limit: int | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Call ``on_alert`` for each new alert event; return how many were shown.

    Stops after ``limit`` alerts, after ``idle_timeout`` seconds without a message, or when
    ``stop`` is set; otherwise follows the topic until cancelled.
    """
    consumer = make_consumer(
        settings,
        topic_names(settings).alerts,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    dedup = AlertDeduplicator()
    shown = 0
    last_message = time.monotonic()
    try:
        while limit is None or shown < limit:
            if stop is not None and stop.is_set():
                break
            batches = await consumer.getmany(timeout_ms=200)
            if not batches:
                if idle_timeout is not None and time.monotonic() - last_message > idle_timeout:
                    break
                continue
            last_message = time.monotonic()
            for records in batches.values():
                for record in records:
                    alert = Alert.from_bytes(record.value)
                    if dedup.is_new(alert):
                        on_alert(alert)
                        shown += 1
    finally:
        await consumer.stop()
    return shown


def render_alert(alert: Alert) -> Text:
    line = Text()
    line.append(f"{alert.detected_at:%Y-%m-%d %H:%M}Z ", style="dim")
    line.append(f"{alert.state.upper():<9} ", style=_STATE_STYLE.get(alert.state, ""))
    line.append(f"{alert.severity:<8} ", style=_STYLE.get(alert.severity, ""))
    line.append(f"{alert.subject:<13} ", style="bold")
    line.append(f"{alert.volume} posts/{alert.window_seconds // 60} min (x{alert.score:.1f})")
    line.append(
        f"\n    {alert.unique_authors} authors, audience {alert.audience:,}, "
        f"platforms {','.join(alert.platforms)}, id {alert.alert_id} r{alert.revision}",
        style="dim",
    )
    if alert.evidence and alert.state != "resolved":
        text = " ".join(alert.evidence[0].text.split())
        line.append(f"\n    @{alert.evidence[0].author_handle}: {text[:100]}", style="italic")
    return line


def printer(console: Console, as_json: bool) -> Callable[[Alert], None]:
    def show(alert: Alert) -> None:
        if as_json:  # one JSON document per line, for jq and scripts
            sys.stdout.write(alert.to_bytes().decode() + "\n")
            sys.stdout.flush()
        else:
            console.print(render_alert(alert))

    return show
