"""The post-mortem of a crisis (step 5: learn): one self-contained HTML page.

From the alert's events and the subject's signal reports around it: volume and sentiment
against the baseline with the alert's states marked, the origin and the order platforms were
reached, the reach of the crisis's story (so far and projected), the opinion leaders, the
alert's events and the evidence. Plots are PNGs embedded in the page; every text that came from
posts is escaped (it is untrusted). ``crisiswatch report ALERT_ID`` fetches the records from the
alerts and signals topics (``fetch_crisis``) and writes the page.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta

from pipeline.runtime.kafka import read_until_idle, topic_names
from pipeline.runtime.settings import Settings
from pipeline.tools import report_plots
from schemas import Alert
from schemas.signals import SubjectSignals

BEFORE = timedelta(hours=6)
AFTER = timedelta(hours=1)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 1em 0; width: 100%; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
.sev-critical { color: #fff; background: #b00; } .sev-high { color: #b00; font-weight: bold; }
.sev-medium { color: #b60; } .facts td:first-child { color: #666; width: 14em; }
img { max-width: 100%; margin: 0.5em 0 1.5em; }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _row(*cells: str) -> str:
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def render_report(alerts: list[Alert], reports: list[SubjectSignals]) -> str:
    """The page for one alert id's events (in revision order) and the subject's reports."""
    if not alerts:
        raise ValueError("no alert events to report on")
    alerts = sorted(alerts, key=lambda a: a.revision)
    first, last = alerts[0], alerts[-1]
    live = [a for a in alerts if a.state != "resolved"] or alerts
    peak = live[-1]
    reports = sorted(reports, key=lambda r: r.as_of)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Post-mortem "
        f"{_e(first.alert_id)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Crisis post-mortem: {_e(first.subject)}</h1>",
        f"<p class='sub'>alert {_e(first.alert_id)} &middot; started "
        f"{first.started_at:%Y-%m-%d %H:%M} UTC &middot; {_e(last.state)} at "
        f"{last.detected_at:%Y-%m-%d %H:%M} UTC &middot; peak severity "
        f"{_e(max((a.severity for a in alerts), key=_rank))}</p>",
        f"<p>{_e(peak.summary)}</p>",
    ]
    if reports:
        parts.append("<h2>Timeline</h2>")
        chart = report_plots.volume_and_sentiment(reports, alerts)
        parts.append(f"<img alt='volume and sentiment against baseline' src='{chart}'>")
    parts.append(_origin_section(peak))
    reach = _reach_points(peak, reports)
    if len(reach) >= 2:
        parts.append("<h2>Reach</h2>")
        chart = report_plots.reach_over_time(reach)
        parts.append(f"<img alt='reach so far and projected' src='{chart}'>")
    leaders = [(ld.handle, ld.score, ld.followers) for ld in peak.impact.opinion_leaders]
    if leaders:
        parts.append("<h2>Opinion leaders</h2>")
        parts.append(f"<img alt='opinion leaders' src='{report_plots.leaders_bar(leaders)}'>")
    parts.append(_events_table(alerts))
    parts.append(_evidence_table(peak))
    parts.append("</body></html>")
    return "\n".join(parts)


def _rank(severity: str) -> int:
    return ("low", "medium", "high", "critical").index(severity)


def _origin_section(alert: Alert) -> str:
    origin, impact = alert.origin, alert.impact
    if origin is None:
        return "<h2>Origin</h2><p>No single story led this crisis.</p>"
    first = origin.first_post
    facts = [
        ("first post", f"{_e(first.id)} on {_e(first.platform)} at {first.created_at:%H:%M:%S}"),
        ("initiator", f"@{_e(origin.initiator_handle)} ({first.followers:,} followers)"),
        ("cascade root", _e(origin.cascade_root)),
        ("first post text", f"<i>{_e(first.text)}</i>"),
        ("scope", _e(impact.scope)),
        (
            "reach so far / projected",
            f"{impact.reach_so_far:,} / {impact.projected_reach:,.0f} "
            f"[{impact.projected_low:,.0f}&ndash;"
            f"{impact.projected_high:,.0f}]",
        ),
        ("share negative", f"{impact.negative_share:.0%}"),
    ]
    rows = "".join(_row(k, v) for k, v in facts)
    chart = report_plots.platforms_reached([(p.platform, p.first_seen) for p in origin.platforms])
    return (
        f"<h2>Origin and spread</h2><table class='facts'>{rows}</table>"
        f"<img alt='platforms in the order reached' src='{chart}'>"
    )


def _reach_points(
    alert: Alert, reports: list[SubjectSignals]
) -> list[tuple[datetime, int, float, float, float]]:
    if alert.origin is None:
        return []
    story_id = alert.origin.story_id
    points = []
    for report in reports:
        for story in report.stories:
            if story.story_id == story_id:
                f = story.forecast
                points.append((report.as_of, f.reach_so_far, f.projected_reach, f.low, f.high))
    return points


def _events_table(alerts: list[Alert]) -> str:
    rows = "".join(
        _row(
            f"{a.detected_at:%Y-%m-%d %H:%M}",
            _e(a.state),
            f"<span class='sev-{_e(a.severity)}'>{_e(a.severity)}</span>",
            f"{a.score:.2f}",
            f"{a.spread.velocity:.1f} (x{a.spread.ratio:.1f})",
            f"{a.sentiment.current:+.2f} vs {a.sentiment.baseline:+.2f}",
            f"{_e(a.playbook.step)}: {_e(a.playbook.action)}",
        )
        for a in alerts
    )
    head = _row(
        "event time (UTC)", "state", "severity", "score", "posts/min", "sentiment", "next step"
    ).replace("td>", "th>")
    return f"<h2>Alert events</h2><table>{head}{rows}</table>"


def _evidence_table(alert: Alert) -> str:
    rows = "".join(
        _row(
            f"{p.created_at:%H:%M:%S}",
            _e(p.platform),
            f"@{_e(p.author_handle)}",
            f"{p.followers:,}",
            _e(p.text),
        )
        for p in alert.evidence
    )
    head = _row("time", "platform", "author", "followers", "text").replace("td>", "th>")
    return f"<h2>Evidence: the leading stories' first posts</h2><table>{head}{rows}</table>"


async def fetch_crisis(
    settings: Settings, alert_id: str, idle_seconds: float = 3.0
) -> tuple[list[Alert], list[SubjectSignals]]:
    """The alert's events from the alerts topic, and its subject's reports from the signals
    topic from ``BEFORE`` its start to ``AFTER`` its last event."""
    names = topic_names(settings)
    records = await read_until_idle(settings, names.alerts, idle_seconds)
    events: dict[int, Alert] = {}
    for raw in records:
        alert = Alert.from_bytes(raw[1])
        if alert.alert_id == alert_id:
            events[alert.revision] = alert  # a redelivered event is the same record
    alerts = [events[r] for r in sorted(events)]
    if not alerts:
        return [], []
    subject = alerts[0].subject.encode()
    start, end = alerts[0].started_at - BEFORE, alerts[-1].detected_at + AFTER
    reports = []
    for key, value in await read_until_idle(settings, names.signals, idle_seconds):
        if key == subject:
            report = SubjectSignals.from_bytes(value)
            if start <= report.as_of <= end:
                reports.append(report)
    return alerts, reports
