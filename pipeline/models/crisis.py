"""The crisis detector of one subject: signal reports in, alert events out (step 4).

``CrisisDetector.learn_one(report)`` takes one SubjectSignals report (as a dict, in event-time
order) and returns the Alert events it causes. A subject is in one of three phases:

    normal --score >= watch--> watch --score >= open in open_reports reports in a row--> crisis
    watch --score < watch for watch_reset_seconds--> normal
    crisis --score < resolve for resolve_seconds--> normal (the alert is resolved)

Hysteresis, so that one noisy minute neither opens nor closes a crisis: opening needs
``open_reports`` consecutive reports at or above ``open_threshold``; resolving needs the score
below the lower ``resolve_threshold`` for ``resolve_seconds`` of event time. While in crisis,
each rise of severity past the highest so far is an ``escalated`` event: one crisis is one
alert id with at most four events, never a storm.

Event time only: the onset (``started_at``) is the start of the first report's interval that
left normal; the alert id is a hash of subject and onset, so a replay gives the same ids.
Reports are idempotent: one at or before the last seen ``as_of`` (a redelivery) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.models.crisis_alert import build_alert, leading_story
from pipeline.models.crisis_anomaly import AnomalyModel
from pipeline.models.crisis_config import ScoreConfig
from pipeline.models.crisis_score import (
    aggregates,
    crisis_score,
    evidence_terms,
    new_feed_profile,
    observe_feed,
)
from pipeline.models.crisis_volume import count_windows, learn_calm, unusual_counts
from schemas.alert import SEVERITIES, Alert, alert_id_for

RULE = "crisis-v1"
STATE_VERSION = 1
PHASES = ("normal", "watch", "crisis")
#: Per-story time series in a report, not kept in the detector's state.
SERIES = ("reach_points", "per_minute")
#: The value of each phase in the crisiswatch_subject_phase gauge.
PHASE_VALUES = {phase: n for n, phase in enumerate(PHASES)}


@dataclass(frozen=True, slots=True)
class CrisisConfig:
    watch_threshold: float = 0.30
    open_threshold: float = 0.50
    resolve_threshold: float = 0.25
    open_reports: int = 2
    resolve_seconds: int = 1800
    watch_reset_seconds: int = 900
    #: Severity by score: at or above each bound (medium, high, critical); below: low.
    severity_scores: tuple[float, float, float] = (0.5, 0.7, 0.85)
    #: A projected reach at or above this raises severity one level.
    severity_reach: float = 1_000_000.0
    score: ScoreConfig = field(default_factory=ScoreConfig)

    def __post_init__(self) -> None:
        if not 0 < self.resolve_threshold <= self.watch_threshold <= self.open_threshold <= 1:
            raise ValueError("need 0 < resolve_threshold <= watch_threshold <= open_threshold <= 1")
        if self.open_reports < 1 or self.resolve_seconds < 0 or self.watch_reset_seconds < 0:
            raise ValueError("open_reports >= 1; resolve and watch reset seconds >= 0")


def severity_of(score: float, projected_reach: float, cfg: CrisisConfig) -> str:
    level = sum(score >= bound for bound in cfg.severity_scores)
    if projected_reach >= cfg.severity_reach:
        level += 1
    return SEVERITIES[min(level, len(SEVERITIES) - 1)]


def _new_state() -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "phase": "normal",
        "episode_start": None,  # ISO event time the score left normal
        "high_count": 0,  # consecutive reports at or above open_threshold
        "calm_since": None,  # ISO event time of the first report of the current calm run
        "alert_id": None,
        "revision": 0,
        "story": None,  # the crisis's leading story (summary, without series) at its last event
        "peak_severity": None,
        "last_as_of": None,
        "last_score": 0.0,
        "last_terms": {},
        "last_projected_reach": 0.0,
        "reports": 0,
        "anomaly": None,
        "feed": new_feed_profile(),  # what the subject's feed can show (unknown terms)
    }


#: The table parts of a detector besides its own state: the anomaly model's (see take_changes).
ANOMALY_PARTS = ("anomaly-structure", "anomaly-masses")


class CrisisDetector:
    """``state`` is the detector's JSON-able state; ``parts`` the anomaly model's parts
    (``ANOMALY_PARTS``) as ``take_changes`` gave them. A state of the older format (the anomaly
    model inside it) loads too."""

    def __init__(
        self,
        subject: str,
        config: CrisisConfig,
        state: dict[str, Any] | None = None,
        parts: dict[str, dict[str, Any] | None] | None = None,
    ) -> None:
        self.subject = subject
        self.config = config
        self._state = state or _new_state()
        parts = parts or {}
        self.anomaly = AnomalyModel(
            config.score,
            self._state.get("anomaly"),
            {"structure": parts.get("anomaly-structure"), "masses": parts.get("anomaly-masses")},
        )
        #: The state changed since take_changes last gave it (a new one: not yet written).
        self._changed = state is None or "anomaly" in self._state

    @property
    def state(self) -> dict[str, Any]:
        """JSON-able state, the anomaly model in it (packed on each call): the older format,
        one value; the agent writes take_changes instead."""
        self._state["anomaly"] = self.anomaly.state
        return self._state

    def take_changes(self) -> dict[str, dict[str, Any]]:
        """What changed since the last call, to write to the table: ``state`` (the detector's
        own, without the anomaly model) and the anomaly model's changed parts. Per batch, not
        per report: the anomaly model is packed only if it learnt."""
        changes = {f"anomaly-{part}": value for part, value in self.anomaly.take_changes().items()}
        if self._changed:
            self._state.pop("anomaly", None)  # it is in its own parts from now on
            changes["state"] = self._state
            self._changed = False
        return changes

    @property
    def feed(self) -> dict[str, Any]:
        """What the subject's feed can show, and its calm rate (pipeline.models.crisis_score)."""
        return self._state.setdefault("feed", new_feed_profile())

    @property
    def phase(self) -> str:
        return str(self._state["phase"])

    @property
    def score(self) -> float:
        """The score of the latest report."""
        return float(self._state["last_score"])

    @property
    def projected_reach(self) -> float:
        """The largest projected reach among the latest report's stories."""
        return float(self._state["last_projected_reach"])

    @property
    def open_severity(self) -> str | None:
        return self._state["peak_severity"] if self.phase == "crisis" else None

    def learn_one(self, report: dict[str, Any]) -> list[Alert]:
        st, cfg = self._state, self.config
        as_of = report["as_of"]
        # Everything read before anything is stored: a report that fails here (an as_of that
        # does not parse, a missing aggregate) must leave the state as it was, or every later
        # report of the subject would fail on it too.
        moment = _ts(as_of)
        if st["last_as_of"] is not None and moment <= _ts(st["last_as_of"]):
            return []  # redelivered or out of order: already accounted for
        # A copy learns from this report (observe_feed replaces its lists), stored with the rest.
        feed = dict(self.feed)
        observe_feed(feed, report, cfg.score)
        # The count windows once, for the volume term and for learn_calm (feed unchanged between).
        windows = count_windows(report, cfg.score, feed)
        terms = evidence_terms(report, cfg.score, feed, windows)
        features = aggregates(report, terms)
        terms["anomaly"] = self.anomaly.score_one(features)
        score = crisis_score(terms, cfg.score)
        # Components are the known terms: an unknown one is absent, not 0.
        known = {name: value for name, value in terms.items() if value is not None}
        projected_reach = _projected_reach(report)
        self._changed = True
        st["last_as_of"] = as_of
        st["reports"] += 1
        st["feed"] = feed
        st["last_score"], st["last_terms"] = score, known
        st["last_projected_reach"] = projected_reach
        if st["phase"] == "normal" and score < cfg.watch_threshold:
            self.anomaly.learn_one(features)  # only ordinary reports teach what is ordinary
        learn_calm(feed, report, cfg.score, normal=st["phase"] == "normal", windows=windows)
        return self._step(report, score, known)

    def _step(self, report: dict[str, Any], score: float, terms: dict[str, float]) -> list[Alert]:
        st, cfg = self._state, self.config
        as_of = report["as_of"]
        if st["phase"] == "normal":
            if score < cfg.watch_threshold:
                return []
            interval_start = _ts(as_of) - timedelta(seconds=report["interval_seconds"])
            st.update(phase="watch", episode_start=interval_start.isoformat(), calm_since=None)
            st["high_count"] = 0
        if st["phase"] == "watch":
            st["high_count"] = st["high_count"] + 1 if score >= cfg.open_threshold else 0
            if st["high_count"] >= cfg.open_reports:
                return [self._open(report, score, terms)]
            if score >= cfg.watch_threshold:
                st["calm_since"] = None
            elif self._calm_for(as_of) >= cfg.watch_reset_seconds:
                st.update(phase="normal", episode_start=None, calm_since=None, high_count=0)
            return []
        # crisis: not over while the counts, over 6 hours too, stay unusual against the calm
        # rate (a sparse feed has lulls of hours in the middle of a crisis lasting days)
        if score < cfg.resolve_threshold and not unusual_counts(
            report, cfg.score, self.feed, sustained=True
        ):
            if self._calm_for(as_of) >= cfg.resolve_seconds:
                return [self._event(report, score, terms, "resolved", st["peak_severity"])]
            return []
        st["calm_since"] = None
        severity = self._severity(report, score)
        if SEVERITIES.index(severity) > SEVERITIES.index(st["peak_severity"]):
            return [self._event(report, score, terms, "escalated", severity)]
        return []

    def _calm_for(self, as_of: str) -> float:
        """Seconds of event time the score has been calm, this report included (which starts
        the calm run when it is the first calm one: its interval counts as calm)."""
        st = self._state
        if st["calm_since"] is None:
            st["calm_since"] = as_of
        return (_ts(as_of) - _ts(st["calm_since"])).total_seconds()

    def _severity(self, report: dict[str, Any], score: float) -> str:
        return severity_of(score, _projected_reach(report), self.config)

    def _open(self, report: dict[str, Any], score: float, terms: dict[str, float]) -> Alert:
        st = self._state
        st["phase"] = "crisis"
        st["alert_id"] = alert_id_for(self.subject, RULE, st["episode_start"])
        st["revision"] = 0
        st["calm_since"] = None
        return self._event(report, score, terms, "opened", self._severity(report, score))

    def _event(
        self,
        report: dict[str, Any],
        score: float,
        terms: dict[str, float],
        state: str,
        severity: str,
    ) -> Alert:
        st = self._state
        st["revision"] += 1
        st["peak_severity"] = severity
        story = self._crisis_story(report, opening=state == "opened")
        alert = build_alert(
            report,
            story,
            alert_id=st["alert_id"],
            revision=st["revision"],
            state=state,
            severity=severity,
            score=score,
            terms=terms,
            rule=RULE,
            started_at=st["episode_start"],
        )
        if state == "resolved":
            st.update(
                phase="normal",
                episode_start=None,
                calm_since=None,
                high_count=0,
                alert_id=None,
                revision=0,
                peak_severity=None,
                story=None,
            )
        return alert

    def _crisis_story(self, report: dict[str, Any], opening: bool) -> dict[str, Any] | None:
        """The story the crisis is about: the leading one when it opens; later, that same
        story (fresh figures when the report still has it, else as last seen), so that an
        alert's origin never jumps to whatever else is being said when it resolves."""
        st = self._state
        if opening or st["story"] is None:
            story = leading_story(report, self.config.score.hot_velocity)
        else:
            story = next(
                (s for s in report["stories"] if s["story_id"] == st["story"]["story_id"]),
                st["story"],
            )
        if story is not None:
            st["story"] = {k: v for k, v in story.items() if k not in SERIES}
        return story


def _projected_reach(report: dict[str, Any]) -> float:
    return max((s["forecast"]["projected_reach"] for s in report["stories"]), default=0.0)


def _ts(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
