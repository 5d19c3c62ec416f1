"""The crisis score on what real feeds can and cannot show, with real snippets.

Real data (tests/data/real, see its README): CrisisLexT26 keyword streams, one platform and no
follower counts, hours of scattered chatter before the event; and the airline tweets of
pipeline/data, ordinary days (the first morning included) of six airlines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.ingest.watchlist import WatchList
from pipeline.models.crisis_config import ScoreConfig
from pipeline.models.crisis_score import binomial_surprise, crisis_score, harm_term
from pipeline.models.crisis_volume import count_surprise, rate_posterior
from pipeline.runtime.settings import PACKAGE_DATA
from pipeline.tools.evaluate_run import read_truth
from pipeline.tools.offline import run_offline
from pipeline.tools.sources import read_posts

REAL = Path(__file__).parents[2] / "data" / "real" / "crisislex_t26"
CFG = ScoreConfig()


def test_unknown_terms_are_left_out_not_counted_as_zero() -> None:
    unknown = {"volume": 1.0, "sentiment": None, "spread": None, "leaders": None, "reach": None}
    # Volume alone, full: its weight over the floor (volume + sentiment): just above 0.5.
    assert crisis_score({**unknown, "anomaly": None}, CFG) == pytest.approx(0.30 / 0.55)
    # The same feed once it can show spread and leaders, and shows none: evidence against.
    shown = {**unknown, "sentiment": 0.0, "spread": 0.0, "leaders": 0.0, "anomaly": None}
    assert crisis_score(shown, CFG) == pytest.approx(0.30 / 0.80)
    # Everything known, as on the simulator: the plain weighted mean of before.
    full = dict.fromkeys(("volume", "sentiment", "spread", "leaders", "reach", "anomaly"), 1.0)
    assert crisis_score({**full, "volume": 0.0}, CFG) == pytest.approx(0.70)


def posterior(history_minutes: float, rate_per_minute: float) -> tuple[float, float]:
    """The rate's gamma posterior after ``history_minutes`` of learnt history at that rate."""
    as_of = datetime.fromtimestamp(
        (history_minutes + CFG.volume_learn_lag_minutes) * 60, tz=UTC
    ).isoformat()
    report = {"as_of": as_of, "spread": {"baseline_rate": rate_per_minute}}
    feed = {"since": 0.0, "calm_rate": None, "calm_at": None}
    shape, rate, _ = rate_posterior(report, CFG, feed)
    return shape, rate


def test_a_count_is_surprising_only_against_a_history_that_makes_it_so() -> None:
    burst = 30  # posts in 5 minutes
    # No history at all: a new subject's first posts are not a crisis.
    assert count_surprise(burst, 5.0, *posterior(0, 0.0)) < CFG.volume_surprise[0]
    # Two quiet hours (one post an hour) make the same 30 posts very surprising.
    assert count_surprise(burst, 5.0, *posterior(120, 1 / 60)) > CFG.volume_surprise[1]
    # A busy subject (6 posts a minute for 8 hours) posts 30 in 5 minutes as a matter of course.
    assert count_surprise(burst, 5.0, *posterior(480, 6.0)) < 1.0


def alerts_of(name: str, subject: str) -> list[Any]:
    messages = list(read_posts(REAL / f"{name}.jsonl", sort_by_time=True))
    alerts = run_offline(messages, WatchList.load(REAL / "watchlist.toml")).alerts
    return [a for a in alerts if a.subject == subject]


@pytest.mark.parametrize(
    ("name", "subject", "within"),
    [
        # A burst from a quiet start: a day and a half of a few posts an hour, then the quake.
        ("2012_Costa_Rica_earthquake", "2012-costa-rica-earthquake", timedelta(minutes=15)),
        # Only nine hours of history, the same day: the burst must beat the daily-cycle allowance.
        ("2013_LA_airport_shootings", "2013-la-airport-shootings", timedelta(minutes=30)),
    ],
)
def test_a_single_platform_followerless_crisis_opens_one_alert_after_its_onset(
    name: str, subject: str, within: timedelta
) -> None:
    truth = next(t for t in read_truth(REAL / "crisis_truth.jsonl") if t.subject == subject)
    alerts = alerts_of(name, subject)
    assert len({a.alert_id for a in alerts}) == 1
    opened = alerts[0]
    assert opened.state == "opened"
    assert truth.onset <= opened.detected_at <= truth.onset + within
    # The feed shows one platform and no followers: those terms are unknown, not zeros.
    assert "spread" not in opened.components and "reach" not in opened.components
    assert opened.components["volume"] > 0.9


def test_a_keyword_stream_that_begins_with_its_crisis_opens_on_reports_of_harm() -> None:
    """The NY train crash's keyword collection starts with the derailment: no quiet hour for
    the volume term to compare with (its rate is learnt from the crisis itself). Its posts
    report deaths, injuries and a derailment, against 5% of posts in general."""
    truth = next(t for t in read_truth(REAL / "crisis_truth.jsonl") if "NY_train" in t.crisis_id)
    alerts = alerts_of("2013_NY_train_crash", truth.subject)
    assert len({a.alert_id for a in alerts}) == 1
    opened = alerts[0]
    assert truth.onset <= opened.detected_at <= truth.onset + timedelta(minutes=45)
    assert opened.components["harm"] > 0.9 and opened.components["volume"] < 0.5
    assert opened.impact.harm_share > 0.3 and opened.impact.harm_share_baseline == 0.05
    assert "reports of harm" in opened.summary


def test_ordinary_real_days_raise_no_alert() -> None:
    """Six airlines' ordinary week, from an empty history (the first night then morning is a
    daily cycle nobody has seen yet). American Airlines is left out: its volume jumps 90x on
    2015-02-22/23 because of how the set was collected (pipeline/data/README.md), and a
    one-platform, follower-less feed shows nothing else to tell it from a crisis."""
    messages = list(read_posts(PACKAGE_DATA / "airline_tweets_2015.csv", sort_by_time=True))
    alerts = run_offline(messages, WatchList.load(PACKAGE_DATA / "watchlist.toml")).alerts
    assert [a for a in alerts if a.subject != "american"] == []


def test_a_sparse_crisis_stays_one_alert_through_its_night_lull() -> None:
    """The Venezuela refinery explosion's labelled tweets: a few posts an hour through the
    night after it. The crisis must not resolve in the lull and open again next morning."""
    truth = next(t for t in read_truth(REAL / "crisis_truth.jsonl") if "Venezuela" in t.crisis_id)
    alerts = alerts_of("2012_Venezuela_refinery", truth.subject)
    assert len({a.alert_id for a in alerts}) == 1
    assert alerts[0].state == "opened" and alerts[0].detected_at > truth.onset


def test_harm_counts_by_how_unlikely_its_posts_are_at_the_usual_share() -> None:
    def harm(current: float, posts: float, usual: float = 0.05) -> float | None:
        sentiment = {
            "harm_share_current": current,
            "harm_posts": posts,
            "harm_share_baseline": usual,
            "harm_shift": current - usual,
        }
        return harm_term({"sentiment": sentiment}, CFG, {})

    # A thin feed's four posts, all reporting harm: -log10 0.05^4 = 5.2, most of the way.
    assert binomial_surprise(4, 4, 0.05) == pytest.approx(5.2, abs=0.01)
    assert harm(1.0, 4.0) == pytest.approx((5.2041 - 3.0) / 3.0, abs=1e-3)
    # Three in ten: a shift of 0.25, but 1.9 is no surprise at 5%.
    assert harm(0.3, 3.0) == 0.0
    # The same share against a subject whose usual share is as high: nothing.
    assert harm(0.6, 20.0, usual=0.6) == 0.0
    assert harm(0.0, 0.0) == 0.0
