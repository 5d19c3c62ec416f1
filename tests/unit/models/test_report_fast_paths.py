"""Fast forms in the report path give exactly what their plain definitions do: the ranking of
hot stories, leaders without the fields a report drops, forecasts without count calibration."""

from __future__ import annotations

import heapq
import math
import random
from typing import Any

import pytest

from pipeline.models.forecast_calibration import (
    CalibrationConfig,
    CascadeForecastConfig,
    CascadeForecaster,
)
from pipeline.models.leaders import AuthorInfluence
from pipeline.models.story_summary import hottest

from .test_forecast_calibration import twitter15_cascades
from .test_leaders import conversation, run


def _reference_hottest(
    stories: list[dict[str, Any]], top: int | None, hot_at: float | None
) -> list[dict[str, Any]]:
    """The ranking as first written: a scan of every story's minutes, heapq for the top."""

    def recent(story: dict[str, Any]) -> int:
        if hot_at is None:
            return 0
        start, total = hot_at - 300, 0
        for minute, n in reversed(story["per_minute"]):
            if minute < start:
                break
            total += n if minute < hot_at else 0
        return total

    def key(story: dict[str, Any]) -> tuple[int, int, float, str]:
        return (-recent(story), -story["posts"], story["first_ts"], story["id"])

    return sorted(stories, key=key) if top is None else heapq.nsmallest(top, stories, key=key)


def _story(rng: random.Random, n: int) -> dict[str, Any]:
    first = rng.randrange(0, 3600) * 1.0
    times = sorted(first + rng.expovariate(1 / 120) for _ in range(rng.randrange(1, 12)))
    minutes: dict[int, int] = {}
    for t in times:
        minutes[int(t // 60) * 60] = minutes.get(int(t // 60) * 60, 0) + 1
    return {
        "id": f"s{n}",
        "first_ts": first,
        "last_ts": times[-1],
        # Ties on posts and start are common: the id decides.
        "posts": rng.choice([len(times), 3]),
        "per_minute": [[m, c] for m, c in sorted(minutes.items())],
    }


def test_hottest_ranks_as_the_plain_scan_and_heap_do() -> None:
    rng = random.Random(3)
    for _ in range(300):
        stories = [_story(rng, n) for n in range(rng.randrange(0, 60))]
        hot_at = rng.choice([None, rng.randrange(0, 4500) * 1.0, 60.0 * rng.randrange(80)])
        for top in (None, 1, 5, 100):
            assert hottest(stories, top, hot_at) == _reference_hottest(stories, top, hot_at)


def test_leaders_without_detail_are_the_detailed_ones_less_two_fields() -> None:
    steps = [("star", 0, 10_000, None), ("fan", 1, 5, "star"), ("quiet", 2, 0, None)]
    model = run(steps + conversation("a", "b", turns=3, start=5, followers=40))
    everyone = ["star", "fan", "quiet", "a", "b", "nobody"]
    detailed = model.leaders(everyone, k=10)
    brief = model.leaders(everyone, k=10, detail=False)
    assert brief == [
        {k: v for k, v in leader.items() if k not in ("posts", "interactions_received")}
        for leader in detailed
    ]
    assert [list(leader) for leader in brief] == [
        ["id", "handle", "followers", "score", "strong_ties"]
    ] * len(brief)


def test_an_author_who_received_nothing_scores_by_the_formula() -> None:
    model = run([("quiet", 0, 123, None), ("loud", 1, 7, None), ("fan", 2, 1, "loud")])
    cfg = model.config
    expected = (
        cfg.followers_weight * math.log10(1 + 123)
        + cfg.received_weight * math.log2(1 + 0.0)
        + cfg.ties_weight * math.log2(1 + 0.0)
    )
    assert model.state["authors"]["quiet"]["recv"][0] == 0.0
    assert model.score_one("quiet") == expected  # exactly: the same operations
    assert isinstance(model, AuthorInfluence) and model.score_one("loud") > math.log10(8)


def test_a_forecast_without_count_calibration_keeps_reach_and_features() -> None:
    cascades = list(twitter15_cascades().values())
    config = CascadeForecastConfig(calibration=CalibrationConfig(min_samples=3))
    model = CascadeForecaster(config)
    # Followers are unknown in Twitter15: give them, so that the reach calibrator learns too.
    with_followers = [[(t, 10.0 + i) for i, (t, _) in enumerate(points)] for points in cascades]
    for points in with_followers[:5]:
        start = points[0][0]
        seen = [p for p in points if p[0] - start <= 3600]
        result = model.predict_one(seen, now=start + 3600, started=start)
        model.learn_one(result["features"], len(points), sum(f for _, f in points))
    for points in with_followers[5:]:
        start = points[0][0]
        seen = [p for p in points if p[0] - start <= 3600]
        full = model.predict_one(seen, now=start + 3600, started=start)
        reach_only = model.predict_one(
            seen, now=start + 3600, started=start, calibrate_counts=False
        )
        assert full["calibrated"]
        counts = ("projected_count", "count_low", "count_high", "calibrated")
        assert {k: v for k, v in full.items() if k not in counts} == {
            k: v for k, v in reach_only.items() if k not in counts
        }
        raw = model.seismic.predict_one(seen, start + 3600)
        assert [reach_only[k] for k in counts[:3]] == [raw[k] for k in counts[:3]]
        assert full["projected_count"] != pytest.approx(raw["projected_count"], rel=1e-9)


def test_the_top_of_a_union_merges_the_rankings_of_its_sets() -> None:
    rng = random.Random(11)
    steps: list[tuple[str, float, int, str | None]] = []
    for n in range(300):  # authors with equal scores too (same followers, nothing received)
        author = f"a{rng.randrange(60)}"
        parent = f"a{rng.randrange(60)}" if rng.random() < 0.4 else None
        steps.append((author, n, rng.choice([0, 10, 10, 500]), parent))
    model = run(steps)
    for _ in range(200):
        sets = [
            [f"a{rng.randrange(70)}" for _ in range(rng.randrange(0, 25))]
            for _ in range(rng.randrange(0, 6))
        ]
        scores: dict[str, float] = {}
        rankings = [model.rank(ids, scores) for ids in sets]
        union = {a for ids in sets for a in ids}
        for k in (0, 1, 5, 100):
            assert model.top_of_union(rankings, k) == model.rank(union)[:k]
            assert model.describe(model.top_of_union(rankings, k)) == model.leaders(union, k=k)
