"""How good detection is: alerts from a run against the ground truth of its stream.

Plain Python on records. An injected crisis counts as detected by the first alert of its subject
that opened between ``lead`` before its onset and ``grace`` after its end; every alert id
matched to no crisis is a false alert. For each detected crisis: detection delay (opened minus
onset, event time), whether the alert's origin at opening names the true first post, platform
and initiator, and the impact estimate against the true final reach (the projection at opening
and at the alert's last event before it resolved; is the true reach inside that interval?).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from schemas import Alert
from schemas.truth import CrisisTruth


@dataclass
class CrisisOutcome:
    crisis_id: str
    kind: str
    subject: str
    detected: bool
    alert_id: str | None = None
    delay_seconds: float | None = None
    first_post_ok: bool | None = None
    platform_ok: bool | None = None
    initiator_ok: bool | None = None
    final_reach: int = 0
    projected_at_open: float | None = None
    projected_at_peak: float | None = None
    reach_in_interval: bool | None = None


@dataclass
class Evaluation:
    crises: int
    detected: int
    missed: int
    false_alerts: int
    subjects: int
    days: float
    false_alerts_per_subject_day: float
    delay_median_seconds: float | None
    delay_p90_seconds: float | None
    origin_first_post: float | None
    origin_platform: float | None
    origin_initiator: float | None
    #: Median |log10(projected / actual)| of the final reach: 0.3 is within a factor of 2.
    reach_log_error_at_open: float | None
    reach_log_error_at_peak: float | None
    reach_interval_coverage: float | None
    outcomes: list[CrisisOutcome] = field(default_factory=list)
    false_alert_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    alerts: Iterable[Alert],
    truths: list[CrisisTruth],
    *,
    subjects: int,
    days: float,
    lead: timedelta = timedelta(minutes=10),
    grace: timedelta = timedelta(hours=1),
) -> Evaluation:
    by_id: dict[str, list[Alert]] = {}
    for alert in alerts:
        by_id.setdefault(alert.alert_id, []).append(alert)
    events = {aid: sorted(evs, key=lambda a: a.revision) for aid, evs in by_id.items()}
    opened = sorted((evs[0] for evs in events.values()), key=lambda a: (a.detected_at, a.alert_id))
    used: set[str] = set()
    outcomes = []
    for truth in sorted(truths, key=lambda t: t.onset):
        match = next(
            (
                a
                for a in opened
                if a.alert_id not in used
                and a.subject == truth.subject
                and truth.onset - lead <= a.detected_at <= truth.end + grace
            ),
            None,
        )
        outcomes.append(_outcome(truth, match, events.get(match.alert_id, []) if match else []))
        if match is not None:
            used.add(match.alert_id)
    detected = [o for o in outcomes if o.detected]
    false_ids = sorted(set(events) - used)
    delays = sorted(o.delay_seconds for o in detected if o.delay_seconds is not None)
    return Evaluation(
        crises=len(truths),
        detected=len(detected),
        missed=len(truths) - len(detected),
        false_alerts=len(false_ids),
        subjects=subjects,
        days=days,
        false_alerts_per_subject_day=len(false_ids) / (subjects * days) if subjects and days else 0,
        delay_median_seconds=statistics.median(delays) if delays else None,
        delay_p90_seconds=_quantile(delays, 0.9),
        origin_first_post=_share(o.first_post_ok for o in detected),
        origin_platform=_share(o.platform_ok for o in detected),
        origin_initiator=_share(o.initiator_ok for o in detected),
        reach_log_error_at_open=_log_error(detected, "projected_at_open"),
        reach_log_error_at_peak=_log_error(detected, "projected_at_peak"),
        reach_interval_coverage=_share(o.reach_in_interval for o in detected),
        outcomes=outcomes,
        false_alert_ids=false_ids,
    )


def _outcome(truth: CrisisTruth, first: Alert | None, events: list[Alert]) -> CrisisOutcome:
    outcome = CrisisOutcome(
        crisis_id=truth.crisis_id,
        kind=truth.kind,
        subject=truth.subject,
        detected=first is not None,
        final_reach=truth.final_reach,
    )
    if first is None:
        return outcome
    outcome.alert_id = first.alert_id
    outcome.delay_seconds = (first.detected_at - truth.onset).total_seconds()
    origin = first.origin
    outcome.first_post_ok = origin is not None and origin.first_post.id == truth.first_post
    outcome.platform_ok = origin is not None and origin.platform == truth.origin_platform
    outcome.initiator_ok = origin is not None and origin.initiator_id == truth.initiator
    outcome.projected_at_open = first.impact.projected_reach
    live = [a for a in events if a.state != "resolved"] or [first]
    peak = live[-1]
    outcome.projected_at_peak = peak.impact.projected_reach
    if truth.final_reach > 0:  # 0: unknown (followers not in the data), nothing to cover
        outcome.reach_in_interval = (
            peak.impact.projected_low <= truth.final_reach <= peak.impact.projected_high
        )
    return outcome


def _share(values: Iterable[bool | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]  # nearest rank: an observed delay, not an interpolation


def _log_error(outcomes: list[CrisisOutcome], attribute: str) -> float | None:
    errors = []
    for o in outcomes:
        projected = getattr(o, attribute)
        if projected is not None and o.final_reach > 0:
            errors.append(abs(math.log10(max(projected, 1.0) / o.final_reach)))
    return statistics.median(errors) if errors else None
