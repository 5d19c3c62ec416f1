from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from pipeline.models import volume
from pipeline.models.volume import SpreadConfig, SubjectSpread

T0 = 1_700_006_400.0  # 2023-11-15 00:00 UTC: minute, block and hour aligned
MINUTE = 60.0
DAY = 86_400.0
Post = tuple[float, str, int, str]


def feed(model: SubjectSpread, posts: list[Post] | Iterator[Post]) -> SubjectSpread:
    for ts, author, followers, platform in posts:
        model.learn_one(ts, author, followers, platform)
    return model


def daily_cycle(minutes: int) -> Iterator[Post]:
    """An ordinary day, deterministically: 0.5 posts/min at night rising to 5 at 14:00 UTC.

    Fractional rates accumulate, so each minute gets the whole number of posts due, evenly
    spread over the minute.
    """
    due = 0.0
    for minute in range(minutes):
        hour = (minute % 1440) / 60
        due += 0.5 + 4.5 * math.exp(-((hour - 14) ** 2) / (2 * 2.5**2))
        count = int(due)
        due -= count
        for j in range(count):
            yield T0 + minute * MINUTE + (j + 0.5) * MINUTE / count, f"a{j}", 100, "twitter"


def test_burst_after_quiet_baseline_scores_high() -> None:
    quiet = [(T0 + i * 120.0, f"q{i % 7}", 50, "twitter") for i in range(180)]  # 6 h, 0.5/min
    model = feed(SubjectSpread(SpreadConfig()), quiet)
    before = model.score_one()
    assert before["warm"]
    assert before["baseline_rate"] == pytest.approx(0.5, rel=0.05)
    assert before["ratio"] < 2.0 and before["z"] < 2.0

    burst_start = T0 + 180 * 120.0
    feed(model, [(burst_start + i * 3.0, f"b{i}", 10, "reddit") for i in range(200)])  # 20/min
    after = model.score_one()
    assert after["velocity"] == pytest.approx(20.0, rel=0.05)
    assert after["ratio"] > 10.0
    assert after["z"] > 10.0
    # The burst's completed blocks were learnt clipped: the baseline barely moved.
    assert after["baseline_rate"] < 1.0


def test_daily_peak_is_not_a_spike_once_the_seasonal_baseline_is_warm() -> None:
    peak = 3 * 1440 + 14 * 60  # three days, then up to 14:00 on the fourth
    seasonal = feed(SubjectSpread(SpreadConfig()), daily_cycle(peak)).score_one()
    assert seasonal["warm"] and seasonal["seasonal_weight"] == 1.0
    assert seasonal["velocity"] == pytest.approx(5.0, rel=0.05)
    assert seasonal["ratio"] < 1.2
    assert abs(seasonal["z"]) < 2.0
    # The same stream against the global level alone: the daily peak looks like a spike.
    flat_config = SpreadConfig(slot_warm_blocks=10**9)
    flat = feed(SubjectSpread(flat_config), daily_cycle(peak)).score_one()
    assert flat["ratio"] > 2.0


def test_volumes_velocity_and_acceleration_on_known_counts() -> None:
    slow = [(T0 + m * MINUTE + s, "a", 1, "x") for m in range(5) for s in (0, 30)]
    fast = [(T0 + m * MINUTE + s, "a", 1, "x") for m in range(5, 10) for s in range(0, 60, 10)]
    score = feed(SubjectSpread(SpreadConfig()), slow + fast).score_one()
    assert (score["volume_5m"], score["volume_15m"], score["volume_60m"]) == (30, 40, 40)
    # The last 5 buckets span 4 minutes and the 50 s of the current one: 6 posts/min.
    velocity = 30 / (4 + 50 / 60)
    assert score["velocity"] == pytest.approx(velocity)
    assert score["acceleration"] == pytest.approx((velocity - 2.0) / 5)
    assert score["watermark"] == T0 + 9 * MINUTE + 50


def test_unique_authors_audience_and_platforms_over_the_window() -> None:
    posts = [
        (T0, "a", 10, "twitter"),
        (T0 + 1, "b", 20, "reddit"),
        (T0 + 2, "a", 15, "twitter"),  # same author, newer follower count
        (T0 + 3, "c", 30, "twitter"),
    ]
    model = feed(SubjectSpread(SpreadConfig()), posts)
    score = model.score_one()
    assert (score["unique_authors"], score["audience"]) == (3, 15 + 20 + 30)
    assert score["platforms"] == ["reddit", "twitter"]
    assert not score["authors_floor"]

    model.learn_one(T0 + 61 * MINUTE, "d", 5, "mastodon")  # the others are out of the hour
    score = model.score_one()
    assert (score["unique_authors"], score["audience"], score["platforms"]) == (1, 5, ["mastodon"])


def test_author_cap_makes_figures_floors_until_the_window_passes() -> None:
    model = SubjectSpread(SpreadConfig(max_tracked_authors=2))
    feed(model, [(T0 + i, f"a{i}", 100, "twitter") for i in range(5)])
    score = model.score_one()
    assert (score["unique_authors"], score["audience"], score["authors_floor"]) == (2, 200, True)
    model.learn_one(T0 + 61 * MINUTE, "z", 1, "twitter")
    score = model.score_one()
    assert (score["unique_authors"], score["authors_floor"]) == (1, False)


def test_a_thirty_day_gap_counts_as_zeros_in_constant_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steady = [(T0 + m * MINUTE, "a", 1, "x") for m in range(600)]  # 1 post/min for 10 hours
    model = feed(SubjectSpread(SpreadConfig()), steady)
    assert model.score_one()["baseline_rate"] == pytest.approx(1.0)
    level_blocks = model.state["level"][0]

    calls = 0
    ew_update = volume._ew_update

    def counting(stats: list[Any], x: float, alpha: float) -> None:
        nonlocal calls
        calls += 1
        ew_update(stats, x, alpha)

    monkeypatch.setattr(volume, "_ew_update", counting)
    resumed = T0 + 30 * DAY + 600 * MINUTE
    model.learn_one(resumed, "a", 1, "x")
    # A per-block loop would make 2 x 8,640 updates. In closed form, only the 1/n warm-up of
    # each statistic goes one at a time: at most 1/alpha for the level and for each of 24 slots.
    assert calls <= 100 + 24 * 20

    state = model.state
    minute = int(resumed // MINUTE)
    assert state["buckets"] == {str(minute): 1}
    # Every 5-minute block up to the watermark (less the settling 2 minutes) was learnt.
    folded_to = state["folded_to"]
    assert folded_to == (minute - 2) // 5 * 5
    assert level_blocks == 595 // 5  # before: blocks 0..594 of the 600 minutes
    assert state["level"][0] == (folded_to - int(T0 // MINUTE)) // 5  # now: every block since
    assert state["level"][1] == pytest.approx(0.0, abs=1e-9)
    assert sum(slot[0] for slot in state["slots"].values()) == state["level"][0]
    score = model.score_one()
    assert (score["volume_60m"], score["baseline_rate"]) == (1, pytest.approx(0.0, abs=1e-6))


def test_zero_run_in_closed_form_matches_one_at_a_time() -> None:
    for start in ([0, 0.0, 0.0], [3, 2.0, 0.5], [500, 4.0, 1.5]):
        stepwise, closed = list(start), list(start)
        for _ in range(1_000):
            volume._ew_update(stepwise, 0.0, 0.05)
        volume._ew_zeros(closed, 1_000, 0.05)
        assert closed[0] == stepwise[0]
        assert closed[1:] == pytest.approx(stepwise[1:], rel=1e-9, abs=1e-300)


def test_late_posts_are_counted_and_out_of_order_ones_bucketed() -> None:
    model = SubjectSpread(SpreadConfig())  # horizon 120 minutes
    model.learn_one(T0 + 200 * MINUTE, "a", 1, "x")
    model.learn_one(T0 + 150 * MINUTE, "b", 1, "x")  # out of order, inside the last hour
    model.learn_one(T0 + 50 * MINUTE, "c", 1, "x")  # 150 minutes back: past the horizon
    score = model.score_one()
    assert (score["late"], score["volume_60m"], score["volume_5m"]) == (1, 2, 1)
    assert score["unique_authors"] == 2
    assert score["watermark"] == T0 + 200 * MINUTE


def test_json_round_trip_between_posts_gives_identical_scores() -> None:
    config = SpreadConfig(max_tracked_authors=20)
    posts: list[Post] = [
        (T0 + i * 37.0 + (90.0 if i % 11 == 0 else 0.0), f"a{i % 31}", i * 7 % 500, f"p{i % 3}")
        for i in range(400)
    ]
    posts.insert(150, (T0 - DAY, "late", 1, "x"))
    posts.append((T0 + 9 * DAY, "back", 3, "x"))
    posts.append((T0 + 9 * DAY + 7 * MINUTE, "again", 3, "x"))
    in_memory = SubjectSpread(config)
    state: dict[str, Any] | None = None
    for post in posts:
        in_memory.learn_one(*post)
        persisted = SubjectSpread(config, state)
        persisted.learn_one(*post)
        state = orjson.loads(orjson.dumps(persisted.state))
        assert SubjectSpread(config, state).score_one() == in_memory.score_one()
    assert state == in_memory.state


def test_empty_model_scores_zero() -> None:
    score = SubjectSpread(SpreadConfig()).score_one()
    assert (score["watermark"], score["velocity"], score["ratio"], score["warm"]) == (
        None,
        0.0,
        0.0,
        False,
    )


@pytest.mark.parametrize(
    "bad", [{"block_minutes": 7}, {"horizon_minutes": 30}, {"slot_alpha": 1.0}, {"min_rate": 0}]
)
def test_spread_config_rejects_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SpreadConfig(**bad)
