"""The simulator: reproducible, realistic in the ways detection depends on, truthful about its
crises, and its crises are what the detector finds."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.ingest.routing import RecentPosts, Routed, route
from pipeline.ingest.validation import Limits
from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.settings import Settings
from pipeline.tools.evaluation import evaluate
from pipeline.tools.offline import run_offline
from pipeline.tools.simulate import SimulationConfig, simulate, write_simulation
from schemas.truth import CrisisTruth

WATCHLIST = WatchList.load(Settings().watchlist_file())
Stream = tuple[list[dict[str, Any]], list[CrisisTruth]]
SMALL = SimulationConfig(seed=3, days=2.0, subjects=("united", "delta"), crises=2)


@pytest.fixture(scope="module")
def stream() -> Stream:
    posts, truths = simulate(SMALL)
    return list(posts), truths


def test_same_seed_same_stream_other_seed_another() -> None:
    first, _ = simulate(SMALL)
    again, _ = simulate(SMALL)
    other, _ = simulate(SimulationConfig(seed=4, days=2.0, subjects=("united", "delta")))
    a = [orjson.dumps(p) for p in first]
    assert a == [orjson.dumps(p) for p in again]
    assert a != [orjson.dumps(p) for p in other]


def test_posts_are_valid_in_time_order_and_routed_to_their_subject(stream: Stream) -> None:
    posts, _ = stream
    times = [datetime.fromisoformat(p["created_at"]) for p in posts]
    assert times == sorted(times)
    limits, recent = Limits(65_536, 10_000), RecentPosts(len(posts) + 1)
    subjects: Counter[str] = Counter()
    for post in posts:
        result = route(orjson.dumps(post), limits, WATCHLIST, recent)
        assert isinstance(result, Routed) and not result.duplicate, post
        assert len(result.subjects) == 1
        subjects[result.subjects[0]] += 1
    assert set(subjects) == {"united", "delta"}


def test_daily_cycle_and_heavy_tailed_followers(stream: Stream) -> None:
    posts, _ = stream
    ordinary = [p for p in posts if re.fullmatch(r"[a-z]+-o\d+", p["id"])]
    by_hour = Counter(datetime.fromisoformat(p["created_at"]).hour for p in ordinary)
    assert by_hour[16] > 2 * by_hour[4]  # afternoon peak vs night
    followers = sorted(p["author"]["followers"] for p in ordinary)
    assert followers[-1] > 100 * statistics.median(followers)


def test_truth_matches_the_stream(stream: Stream) -> None:
    posts, truths = stream
    assert len(truths) == 2
    for truth in truths:
        own = [p for p in posts if p["id"].startswith(truth.crisis_id + "-")]
        first = min(own, key=lambda p: p["created_at"])
        assert (first["id"], first["platform"], first["author"]["id"]) == (
            truth.first_post,
            truth.origin_platform,
            truth.initiator,
        )
        assert datetime.fromisoformat(first["created_at"]) == truth.onset
        seen: list[str] = []
        for p in own:
            if p["platform"] not in seen:
                seen.append(p["platform"])
        assert seen == truth.platforms and len(own) == truth.posts
        reach = {p["author"]["id"]: p["author"]["followers"] for p in own}
        assert sum(reach.values()) == truth.final_reach


def test_the_detector_finds_the_injected_crises_and_nothing_else(stream: Stream) -> None:
    posts, truths = stream
    run = run_offline([orjson.dumps(p) for p in posts], WATCHLIST)
    result = evaluate(run.alerts, truths, subjects=2, days=2.0)
    assert (result.detected, result.false_alerts) == (2, 0)
    assert result.delay_p90_seconds is not None and result.delay_p90_seconds <= 15 * 60
    assert result.origin_first_post == result.origin_platform == result.origin_initiator == 1.0


def test_written_files_hold_the_stream_and_its_truth(tmp_path: Path) -> None:
    posts_path, truth_path, count, truths = write_simulation(SMALL, tmp_path)
    lines = posts_path.read_bytes().splitlines()
    assert len(lines) == count > 1000
    assert [CrisisTruth.from_bytes(x) for x in truth_path.read_bytes().splitlines()] == truths


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"subjects": ()}, "subjects"),
        ({"days": -1.0}, "days"),
        ({"days": 0.5}, "no room for a crisis"),  # wrote a truth with a crisis and no posts
        ({"posts_per_hour": 0.0}, "posts per hour"),
        ({"crises": -1}, "crises"),
    ],
)
def test_configurations_that_cannot_give_a_stream_are_refused(
    changes: dict[str, Any], says: str
) -> None:
    # Issue 16, defects 9 and 10: --subjects 0 divided by zero; --days -1 exited 0 with no
    # posts and a crisis in the truth file.
    with pytest.raises(ValueError, match=says):
        SimulationConfig(**changes)
    assert SimulationConfig(days=0.5, crises=0).days == 0.5
