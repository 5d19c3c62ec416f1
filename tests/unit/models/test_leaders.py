from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from pipeline.models.leaders import AuthorInfluence, LeaderConfig

T0 = datetime(2015, 2, 20, 10, 0, tzinfo=UTC)
_ids = iter(range(1_000_000))


def post(author: str, minutes: float, followers: int = 0) -> dict[str, Any]:
    return {
        "id": f"p{next(_ids)}",
        "platform": "twitter",
        "author": {"id": author, "handle": f"h_{author}", "followers": followers},
        "text": "...",
        "created_at": (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
    }


Step = tuple[str, float, int, str | None]  # author, minutes, followers, parent author


def run(
    steps: list[Step], config: LeaderConfig | None = None, persist: bool = False
) -> AuthorInfluence:
    model = AuthorInfluence(config)
    for author, minutes, followers, parent in steps:
        model.learn_one(post(author, minutes, followers), parent)
        if persist:
            model = AuthorInfluence(config, orjson.loads(orjson.dumps(model.state)))
    return model


def conversation(a: str, b: str, turns: int, start: float = 0, followers: int = 0) -> list[Step]:
    """a and b answer each other ``turns`` times each, a minute apart."""
    steps: list[Step] = []
    for n in range(turns):
        steps.append((a, start + 2 * n, followers, b))
        steps.append((b, start + 2 * n + 1, followers, a))
    return steps


def test_strong_reciprocal_ties_raise_an_author_above_a_same_follower_author() -> None:
    steps: list[Step] = [("x", 0, 100, None), ("y", 0, 100, None)]
    steps += conversation("x", "z", turns=2, start=1, followers=100)
    model = run(steps)
    assert model.strong_ties("x") == ["z"] and model.strong_ties("z") == ["x"]
    assert model.strong_ties("y") == []
    assert model.score_one("x") > model.score_one("y")
    assert [r["id"] for r in model.leaders(["y", "x"], k=2)] == ["x", "y"]
    top = model.leaders(["x"])[0]
    assert (top["handle"], top["followers"], top["strong_ties"], top["posts"]) == ("h_x", 100, 1, 3)


def test_zero_followers_with_strong_ties_outranks_ten_thousand_followers_without() -> None:
    steps: list[Step] = [("star", 0, 10_000, None)]
    steps += conversation("nobody", "friend", turns=2, start=1)
    model = run(steps)
    assert model.score_one("star") == pytest.approx(math.log10(10_001))
    assert model.score_one("nobody") > model.score_one("star")
    assert model.leaders(k=1)[0]["id"] in {"nobody", "friend"}


def test_one_way_interactions_make_no_strong_tie_but_count_as_reach() -> None:
    steps: list[Step] = [("fan", n, 10, "idol") for n in range(6)]
    steps.append(("idol", 6, 10, "fan"))  # one answer back: below strong_tie_min
    model = run(steps)
    assert model.strong_ties("fan") == [] and model.strong_ties("idol") == []
    assert model.score_one("idol") > model.score_one("fan")
    [idol] = model.leaders(["idol"])
    assert idol["strong_ties"] == 0 and 5 < idol["interactions_received"] < 6


def test_self_replies_are_not_interactions() -> None:
    model = run([("solo", n, 5, "solo") for n in range(5)])
    record = model.state["authors"]["solo"]
    assert (record["posts"], record["out"], record["recv"][0]) == (5, {}, 0.0)


def test_ties_fade_in_event_time() -> None:
    config = LeaderConfig(half_life_seconds=3600, tie_ttl_seconds=6 * 3600)
    steps = conversation("a", "b", turns=2)
    model = run(steps, config)
    fresh = model.score_one("a")
    model.learn_one(post("c", 4 * 60), None)  # 4 hours later: weights at a sixteenth
    faded = model.score_one("a")
    assert model.strong_ties("a") == ["b"] and faded < fresh
    model.learn_one(post("c", 7 * 60), None)  # past the tie TTL
    assert model.strong_ties("a") == []


def test_late_interaction_is_decayed_forward() -> None:
    config = LeaderConfig(half_life_seconds=60)
    model = run([("a", 10, 0, "b"), ("a", 9, 0, "b")], config)
    weight, as_of = model.state["authors"]["b"]["recv"]
    assert (weight, as_of) == (pytest.approx(1.5), (T0 + timedelta(minutes=10)).timestamp())


def test_author_and_edge_caps_hold() -> None:
    config = LeaderConfig(max_authors=10, max_edges_per_author=3, eviction_sample=4)
    steps: list[Step] = [("hub", n, 1_000, f"t{n}") for n in range(8)]
    steps += [(f"u{n}", 10 + n, n, None) for n in range(40)]
    steps.append(("hub", 60, 1_000, "u39"))
    model = run(steps, config)
    authors = model.state["authors"]
    assert len(authors) == 10
    assert "hub" in authors  # touched last: the most recently active are kept
    assert list(authors["hub"]["out"]) == ["t6", "t7", "u39"]
    # Among the least recently active, the lowest scorers went: the low-numbered u's.
    assert "u39" in authors and "u0" not in authors


def test_edge_cap_keeps_the_strongest_edges() -> None:
    config = LeaderConfig(max_edges_per_author=2)
    steps: list[Step] = [("a", 0, 0, "b"), ("a", 1, 0, "b"), ("a", 2, 0, "c"), ("a", 3, 0, "d")]
    model = run(steps, config)
    assert sorted(model.state["authors"]["a"]["out"]) == ["b", "d"]


def test_same_scores_when_state_goes_through_json_between_posts() -> None:
    config = LeaderConfig(max_authors=6, max_edges_per_author=2, half_life_seconds=600)
    steps = conversation("a", "b", 3) + conversation("c", "a", 2, start=7)
    steps += [(f"n{n}", 20 + n, n * 10, "a") for n in range(5)] + [("b", 30, 5, "c")]
    plain = run(steps, config)
    persisted = run(steps, config, persist=True)
    assert orjson.dumps(plain.state) == orjson.dumps(persisted.state)
    assert plain.leaders(k=10) == persisted.leaders(k=10)


def test_leaders_skip_unknown_ids_and_untracked_score_zero() -> None:
    model = run([("a", 0, 50, None), ("b", 1, 5, None)])
    assert [r["id"] for r in model.leaders(["zz", "b", "a", "b"])] == ["a", "b"]
    assert model.score_one("zz") == 0.0
    assert model.leaders([]) == []


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError):
        LeaderConfig(max_authors=1)
    with pytest.raises(ValueError):
        LeaderConfig(strong_tie_min=0)
