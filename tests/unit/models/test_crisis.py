"""The crisis detector: phases with hysteresis on controlled scores, and the whole model chain
on a constructed stream whose answers are known (a quiet baseline, then a crisis)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from pipeline.ingest.watchlist import WatchList
from pipeline.models.crisis import RULE, CrisisConfig, CrisisDetector, severity_of
from pipeline.models.crisis_alert import build_alert
from pipeline.models.crisis_config import SUPPORTING, TERMS, ScoreConfig
from pipeline.models.crisis_score import crisis_score, evidence_terms
from pipeline.runtime.settings import Settings
from pipeline.tools.offline import run_offline
from pipeline.tools.scenario import T0, crisis_scenario, encoded, ordinary_scenario
from schemas import alert_id_for

WATCHLIST = WatchList.load(Settings().watchlist_file())
# Only the volume term counts, for a subject whose rate is known to be one post a minute (a
# strong prior, no daily cycle to allow for): the score is what each report's counts make it.
VOLUME_ONLY = CrisisConfig(
    score=ScoreConfig(
        weight_volume=1.0,
        weight_sentiment=0.0,
        weight_spread=0.0,
        weight_leaders=0.0,
        weight_reach=0.0,
        weight_anomaly=0.0,
        weight_intent=0.0,
        volume_prior=(1000.0, 1000.0),
        volume_daily_amplitude=1.0,
    )
)


def report(minute: int, score: float) -> dict[str, Any]:
    """A report whose volume term is ``score`` (0, about 0.55 or 1 via its 5-minute count: 5 is
    the usual rate, 22 a surprising 4.2x, 200 a flood)."""
    z = {0.0: 0.0, 0.5: 6.5, 1.0: 20.0}[score]
    ratio = {0.0: 1.0, 0.5: 4.0, 1.0: 20.0}[score]
    count = {0.0: 5, 0.5: 22, 1.0: 200}[score]
    return {
        "subject": "acme",
        "as_of": (T0 + timedelta(minutes=minute)).isoformat(),
        "interval_seconds": 60,
        "posts": minute,
        "sentiment": {
            "baseline": 0.1,
            "current": 0.1,
            "delta": 0.0,
            "z": 0.0,
            "negative_share_baseline": 0.1,
            "negative_share_current": 0.1,
            "shift": False,
            "warm": True,
            "n": 100,
        },
        "spread": {
            "volume_5m": count,
            "volume_15m": 10 + count,
            "volume_60m": 55 + count,
            "velocity": ratio,
            "acceleration": 0.0,
            "baseline_rate": 1.0,
            "baseline_std": 0.5,
            "ratio": ratio,
            "z": z,
            "unique_authors": 10,
            "audience": 1000,
            "platforms": ["twitter"],
            "warm": True,
            "late": 0,
        },
        "stories": [],
        "leaders": [],
    }


def run(
    scores: list[tuple[int, float]], config: CrisisConfig = VOLUME_ONLY, persist: bool = False
) -> list[tuple[str, str, int]]:
    detector = CrisisDetector("acme", config)
    events: list[tuple[str, str, int]] = []
    for minute, score in scores:
        if persist:  # through JSON between reports, as through the table
            state = orjson.loads(orjson.dumps(detector.state))
            detector = CrisisDetector("acme", config, state)
        for alert in detector.learn_one(report(minute, score)):
            minutes = int((alert.detected_at - T0).total_seconds() // 60)
            events.append((alert.state, alert.severity, minutes))
    return events


def test_one_noisy_minute_opens_nothing() -> None:
    assert run([(0, 0.0), (1, 1.0), (2, 0.0), (3, 0.0), (4, 1.0), (5, 0.0), (6, 0.5)]) == []


def test_two_high_reports_open_then_calm_for_30_minutes_resolves() -> None:
    scores = [(0, 0.0), (1, 1.0), (2, 1.0), (3, 1.0), (4, 0.0)]
    scores += [(5, 1.0)]  # one busy minute in the calm: the calm starts again after it
    scores += [(m, 0.0) for m in range(6, 40)]
    assert run(scores) == [("opened", "critical", 2), ("resolved", "critical", 36)]


def test_escalates_only_past_its_peak_severity() -> None:
    scores = [(0, 0.5), (1, 0.5), (2, 1.0), (3, 0.5), (4, 1.0), (5, 1.0)]
    assert run(scores) == [("opened", "medium", 1), ("escalated", "critical", 2)]


def test_redelivered_reports_are_ignored_and_state_survives_json() -> None:
    scores = [(0, 0.0), (1, 1.0), (1, 1.0), (2, 1.0), (2, 1.0)] + [(m, 0.0) for m in range(3, 40)]
    expected = [("opened", "critical", 2), ("resolved", "critical", 33)]
    assert run(scores) == expected
    assert run(scores, persist=True) == expected


def test_severity_from_score_and_projected_reach() -> None:
    config = CrisisConfig()
    assert severity_of(0.4, 0, config) == "low"
    assert severity_of(0.55, 0, config) == "medium"
    assert severity_of(0.75, 0, config) == "high"
    assert severity_of(0.9, 0, config) == "critical"
    assert severity_of(0.55, 2_000_000, config) == "high"
    assert severity_of(0.9, 2_000_000, config) == "critical"


def test_thresholds_must_nest() -> None:
    with pytest.raises(ValueError):
        CrisisConfig(resolve_threshold=0.4, watch_threshold=0.3)


def test_a_crisis_after_a_quiet_baseline_is_one_alert_with_its_origin() -> None:
    posts, truth = crisis_scenario(others=("@Delta", "@SouthwestAir"))
    alerts = run_offline(encoded(posts), WATCHLIST).alerts
    assert {a.subject for a in alerts} == {"united"}  # the others only had ordinary days
    assert len({a.alert_id for a in alerts}) == 1
    states = [a.state for a in alerts]
    assert states[0] == "opened" and states[-1] == "resolved"
    assert set(states[1:-1]) <= {"escalated"}
    assert [a.revision for a in alerts] == list(range(1, len(alerts) + 1))
    ranks = ["low", "medium", "high", "critical"]
    assert [ranks.index(a.severity) for a in alerts] == sorted(
        ranks.index(a.severity) for a in alerts
    )
    opened, resolved = alerts[0], alerts[-1]
    assert truth.onset < opened.detected_at <= truth.onset + timedelta(minutes=10)
    assert truth.onset <= opened.started_at < opened.detected_at
    assert resolved.detected_at > truth.end
    assert opened.alert_id == alert_id_for("united", RULE, opened.started_at.isoformat())
    assert opened.origin is not None
    assert (opened.origin.first_post.id, opened.origin.platform, opened.origin.initiator_id) == (
        truth.first_post,
        truth.origin_platform,
        truth.initiator,
    )
    assert opened.sentiment.delta < 0 and opened.spread.ratio > 5
    peak = alerts[-2]
    assert peak.origin is not None and resolved.origin is not None
    # The peak may come before the story reached every platform; by the end it has.
    reached = [p.platform for p in peak.origin.platforms]
    assert reached == truth.platforms[: len(reached)]
    assert [p.platform for p in resolved.origin.platforms] == truth.platforms
    assert peak.impact.scope == "widespread"
    assert peak.impact.projected_reach >= peak.impact.reach_so_far
    assert peak.playbook.step == "mitigate"
    assert resolved.playbook.step == "learn"


def test_ordinary_daily_ups_and_downs_raise_no_alert() -> None:
    run = run_offline(encoded(ordinary_scenario(days=3.0)), WATCHLIST)
    assert run.reports > 500
    assert run.alerts == []


@pytest.mark.parametrize(
    "broken",
    [{"as_of": "then"}, {"as_of": 7}, {"spread": None}, {"sentiment": {}}, {"stories": [{}]}],
)
@pytest.mark.parametrize("minute", [1, 11])  # 11: past the next 10-minute count checkpoint
def test_a_report_that_fails_leaves_the_state_as_it_was(
    broken: dict[str, Any], minute: int
) -> None:
    # Issue 16, defect 7: a report with as_of "then" failed after storing it, and every later
    # report of the subject failed on it (the agent dead-letters the one that fails).
    detector = CrisisDetector("acme", VOLUME_ONLY)
    detector.learn_one(report(0, 0.0))
    before = orjson.dumps(detector.state)
    with pytest.raises((ValueError, TypeError, KeyError, AttributeError, IndexError)):
        detector.learn_one({**report(minute, 0.0), **broken})
    assert orjson.dumps(detector.state) == before
    detector.learn_one(report(minute + 1, 0.0))
    assert detector.state["reports"] == 2


def test_intent_to_act_is_evidence_in_the_score_and_in_the_alert() -> None:
    calm_report = report(0, 0.0)
    angry = report(1, 0.0)
    angry["sentiment"] = {
        **angry["sentiment"],
        "intent_share_baseline": 0.01,
        "intent_share_current": 0.21,
        "intent_shift": 0.20,
        "intent_posts": 9.0,
        "intent_kinds": {"boycott": 6.0, "refund": 3.0},
    }
    cfg = ScoreConfig()
    assert evidence_terms(calm_report, cfg)["intent"] == 0.0
    assert evidence_terms(angry, cfg)["intent"] == 1.0
    # Few posts: a share that jumps on two posts is not yet evidence.
    few = {**angry, "sentiment": {**angry["sentiment"], "intent_posts": 2.0}}
    assert evidence_terms(few, cfg)["intent"] == 0.0
    terms = {**dict.fromkeys(TERMS, 0.0), "intent": 1.0}
    # The other supporting term (harm) is absent (0): its weight does not count.
    weights = {t: w for t, w in cfg.weights().items() if t not in SUPPORTING or t == "intent"}
    share = cfg.weight_intent / sum(weights.values())
    assert crisis_score(terms, cfg) == pytest.approx(share)
    alert = build_alert(
        angry,
        None,
        alert_id="a1",
        revision=1,
        state="opened",
        severity="low",
        score=0.5,
        terms=terms,
        rule="test",
        started_at=angry["as_of"],
    )
    assert alert.impact.intent_share == pytest.approx(0.21)
    assert alert.impact.intent_share_baseline == pytest.approx(0.01)
    assert alert.impact.intent_kinds == {"boycott": 6.0, "refund": 3.0}
    assert "intent to act 21% vs 1% (boycott 6, refund 3)" in alert.summary
