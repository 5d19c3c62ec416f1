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

from pipeline.runtime.kafka import make_consumer, topic_names
from pipeline.runtime.settings import Settings
from schemas import SEVERITIES, Alert

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
    alert_filter: AlertFilter | None = None,
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
                    wanted = alert_filter is None or alert_filter.wants(alert)
                    if dedup.is_new(alert) and wanted:
                        on_alert(alert)
                        shown += 1
    finally:
        await consumer.stop()
    return shown


class AlertFilter:
    """Which alerts a subscriber wants: some subjects only, and a minimum severity.

    An alert id passes as a whole once any of its events did, so a subscriber who saw a crisis
    open also sees it resolve, even if its severity at that event is below the minimum."""

    def __init__(self, subjects: tuple[str, ...] = (), min_severity: str = "low") -> None:
        self.subjects = frozenset(subjects)
        self.min_rank = SEVERITIES.index(min_severity)
        self._followed: set[str] = set()

    def wants(self, alert: Alert) -> bool:
        if self.subjects and alert.subject not in self.subjects:
            return False
        if alert.alert_id in self._followed or SEVERITIES.index(alert.severity) >= self.min_rank:
            self._followed.add(alert.alert_id)
            return True
        return False


#: Characters a terminal acts on instead of showing: C0 and C1 controls, DEL, and the bidi
#: controls that reorder what is shown. Alerts carry handles, ids and text anyone can write
#: ("\x1b]0;PWNED\x07\x1b[2J" retitled and cleared the terminal): each is shown escaped.
_UNPRINTABLE = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in (
        *range(0x00, 0x20),
        *range(0x7F, 0xA0),
        0x061C,
        0x200E,
        0x200F,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    )
}


def printable(text: str) -> str:
    """``text`` with every control character escaped (``\x1b`` shown as the 4 characters)."""
    return text.translate(_UNPRINTABLE)


def render_alert(alert: Alert) -> Text:
    """A few lines an ops person reads at a glance: what, how bad, where it started, what next.

    Every value that comes from posts goes through ``printable`` (``_p``)."""
    _p = printable
    line = Text()
    line.append(f"{alert.detected_at:%Y-%m-%d %H:%M}Z ", style="dim")
    line.append(f"{alert.state.upper():<9} ", style=_STATE_STYLE.get(alert.state, ""))
    line.append(f"{alert.severity:<8} ", style=_STYLE.get(alert.severity, ""))
    line.append(f"{_p(alert.subject):<11} ", style="bold")
    line.append(f"score {alert.score:.2f} since {alert.started_at:%H:%M}Z")
    spread, impact = alert.spread, alert.impact
    line.append(
        f"\n    {spread.velocity:.1f} posts/min (x{spread.ratio:.1f} usual), "
        f"sentiment {alert.sentiment.current:+.2f} vs {alert.sentiment.baseline:+.2f}, "
        f"{spread.unique_authors} authors, {impact.scope}"
    )
    if alert.origin is not None:
        origin = alert.origin
        path = " > ".join(_p(p.platform) for p in origin.platforms)
        line.append(
            f"\n    origin {_p(origin.platform)} {_p(origin.first_post.id)} by "
            f"@{_p(origin.initiator_handle)} ({path}); reach {impact.reach_so_far:,}, projected "
            f"{impact.projected_reach:,.0f} [{impact.projected_low:,.0f}-"
            f"{impact.projected_high:,.0f}]",
        )
        if impact.opinion_leaders:
            leaders = ", ".join(f"@{_p(ld.handle)}" for ld in impact.opinion_leaders[:3])
            line.append(f"\n    opinion leaders {leaders}, {impact.negative_share:.0%} negative")
    if impact.intent_kinds:
        # "What will they do?": the recent posts stating an intent to act, by kind.
        kinds = sorted(impact.intent_kinds.items(), key=lambda kind: -kind[1])
        stated = ", ".join(f"{kind} {count:.0f}" for kind, count in kinds)
        line.append(
            f"\n    intent to act {impact.intent_share:.0%} of posts "
            f"(usual {impact.intent_share_baseline:.0%}): {stated}"
        )
    if alert.evidence and alert.state != "resolved":
        first = alert.evidence[0]
        text = " ".join(first.text.split())
        line.append(f"\n    @{_p(first.author_handle)}: {_p(text[:90])}", style="italic")
    line.append(
        f"\n    next: {_p(alert.playbook.step)}: {_p(alert.playbook.action)}", style="bold cyan"
    )
    line.append(f"\n    id {_p(alert.alert_id)} r{alert.revision}", style="dim")
    return line


def printer(console: Console, as_json: bool) -> Callable[[Alert], None]:
    def show(alert: Alert) -> None:
        if as_json:  # one JSON document per line, for jq and scripts
            sys.stdout.write(alert.to_bytes().decode() + "\n")
            sys.stdout.flush()
        else:
            console.print(render_alert(alert))

    return show
