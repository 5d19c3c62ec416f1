"""One post far ahead of its subject's event time must not silence the subject (issue 16, 1).

A post with created_at in 2099 (or just 22 hours ahead) used to move the subject's clock: every
later post was late, so no report and no alert. Now a post more than max_ahead_seconds ahead is
held until the subject's next post: kept if the stream follows it, dead-lettered if not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ingest.watchlist import WatchList
from pipeline.models.signals import SignalsConfig, SubjectSignalsModel
from pipeline.runtime.settings import Settings
from pipeline.tools.offline import run_offline
from pipeline.tools.scenario import crisis_scenario, encoded

from .test_signals import NEUTRAL, T0, post, quiet_day

WATCHLIST = WatchList.load(Settings().watchlist_file())


def outlier(created_at: str, pid: str = "x") -> bytes:
    """The issue's reproduction: a valid post of @united, far in the future."""
    return orjson.dumps(
        {
            "id": pid,
            "platform": "twitter",
            "author": {"id": "a", "handle": "a", "followers": 1},
            "text": "@united hi",
            "created_at": created_at,
        }
    )


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def scenario() -> tuple[list[dict[str, Any]], Any]:
    posts, _ = crisis_scenario()
    return posts, run_offline(encoded(posts), WATCHLIST)


@pytest.mark.parametrize("where", ["first", "middle"])
@pytest.mark.parametrize("ahead", ["2099-12-31T00:00:00Z", timedelta(hours=22)])
def test_a_future_post_does_not_silence_the_subject(
    scenario: tuple[list[dict[str, Any]], Any], where: str, ahead: str | timedelta
) -> None:
    posts, clean = scenario
    assert clean.alerts  # the scenario's crisis: opened ... resolved
    at = 0 if where == "first" else len(posts) // 3
    stamp = (
        ahead
        if isinstance(ahead, str)
        else iso(datetime.fromisoformat(posts[at]["created_at"]) + ahead)
    )
    messages = encoded(posts)
    messages.insert(at, outlier(stamp))
    run = run_offline(messages, WATCHLIST)
    assert run.alerts == clean.alerts
    assert run.signals_dead_lettered == 1


def feed(model: SubjectSignalsModel, posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    reports = []
    for n, p in enumerate(posts):
        reports.extend(model.learn_one(p, NEUTRAL, source=n))
    return reports


def test_the_outlier_is_rejected_with_its_reason_and_source_and_nothing_else_is() -> None:
    day = [p for p, _ in quiet_day()[:30]]
    spiked = [*day[:10], post("spike", 22 * 60, "flight 22 hours early"), *day[10:]]
    model = SubjectSignalsModel("acme", SignalsConfig())
    reports = feed(model, spiked)
    [rejected] = model.take_rejected()
    assert rejected.post["id"] == "spike" and rejected.source == 10
    assert rejected.reason == "future_timestamp" and "ahead of subject acme" in rejected.detail
    clean = SubjectSignalsModel("acme", SignalsConfig())
    assert reports == feed(clean, day)
    assert model.spread.state["late"] == 0 and model.take_rejected() == []


def test_quiet_spells_and_old_data_are_kept_whole() -> None:
    # Old data (2020, replayed years later: the wall clock is never consulted), with gaps of
    # 5 hours, a day and a week between bursts: time really moved on, nothing is rejected.
    starts = [0, 5 * 60, 29 * 60, 8 * 24 * 60]
    posts = [post(f"b{s}-{n}", s + n, f"burst {s} post {n}") for s in starts for n in range(5)]
    model = SubjectSignalsModel("acme", SignalsConfig())
    reports = feed(model, posts)
    assert model.take_rejected() == []
    assert model.meta["posts"] + model.held == len(posts)
    assert model.spread.state["late"] == 0
    # One post a minute: every minute was reported once a later one arrived, but the last.
    assert len(reports) == len(posts) - 1


def test_a_held_post_survives_the_table_round_trip() -> None:
    config = SignalsConfig()
    model = SubjectSignalsModel("acme", config)
    feed(model, [post("a", 0, "one"), post("b", 1, "two"), post("far", 10 * 24 * 60, "far")])
    assert model.held == 1
    parts = orjson.loads(orjson.dumps(model.state_parts()))
    restored = SubjectSignalsModel("acme", config, parts)
    restored.learn_one(post("c", 2, "three"), NEUTRAL)
    assert [r.post["id"] for r in restored.take_rejected()] == ["far"]
    assert (
        restored.meta["posts"] == 3
        and restored.meta["frontier"] == (T0 + timedelta(minutes=2)).timestamp()
    )


def test_max_ahead_must_stay_below_the_spread_horizon() -> None:
    with pytest.raises(ValueError, match="max_ahead_seconds"):
        SignalsConfig(max_ahead_seconds=3 * 3600)
    with pytest.raises(ValueError, match="max_ahead_seconds"):
        SignalsConfig(max_ahead_seconds=0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=600), min_size=2, max_size=40),
    outliers=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=39), st.integers(min_value=31, max_value=10**7)
        ),
        max_size=6,
    ),
)
def test_outliers_anywhere_change_no_report_and_are_all_rejected(
    gaps: list[int], outliers: list[tuple[int, int]]
) -> None:
    # Fuzz: an ordinary stream with gaps of up to 10 hours, and outliers inserted anywhere, from
    # 31 minutes to 19 years ahead of the ordinary post after them (never two in a row: two
    # posts that agree do move a clock; within max_ahead_seconds of the next, a post is kept).
    minutes = [sum(gaps[: n + 1]) for n in range(len(gaps))]
    clean = [post(f"p{n}", m, f"ordinary post {n}") for n, m in enumerate(minutes)]
    spiked: list[dict[str, Any]] = []
    ahead = dict(outliers)
    for n, p in enumerate(clean):
        spiked.append(p)
        if n in ahead and n + 1 < len(clean):  # followed by an ordinary post
            spiked.append(post(f"x{n}", minutes[n + 1] + ahead[n], "spike"))
    model = SubjectSignalsModel("acme", SignalsConfig())
    reports = feed(model, spiked)
    rejected = [r.post["id"] for r in model.take_rejected()]
    assert sorted(rejected) == sorted(p["id"] for p in spiked if p["id"].startswith("x"))
    reference = SubjectSignalsModel("acme", SignalsConfig())
    assert reports == feed(reference, clean)
    assert model.spread.state["late"] == 0
    assert model.meta["posts"] + model.held + len(rejected) == len(spiked)
