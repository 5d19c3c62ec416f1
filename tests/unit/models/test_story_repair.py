"""Story repair on real reply threads (RumourEval 2017, Ottawa shooting; tests/data/real)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson

from pipeline.models.story_index import StoryTracker
from pipeline.models.story_types import StoryConfig
from schemas.post import parse_event_time

THREADS = (
    Path(__file__).resolve().parents[2] / "data" / "real" / "rumoureval2017_ottawa_threads.jsonl"
)
SOURCES = {"524924619812511746", "525056576038518785", "524925730053181440"}


def load() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in THREADS.read_bytes().splitlines()]


def source_of(posts: list[dict[str, Any]]) -> dict[str, str]:
    parents = {p["id"]: p.get("reply_to") for p in posts}
    result = {}
    for post_id in parents:
        node = post_id
        while parents[node] is not None:
            node = parents[node]
        result[post_id] = node
    return result


def final_roots(tracker: StoryTracker) -> dict[str, tuple[str, str]]:
    """Post id -> (story id, root) in the tracker's recent-post map."""
    return {pid: (e[0], e[3] or pid) for pid, e in tracker.state["posts"].items()}


def test_late_answers_reopen_their_thread_instead_of_starting_a_story() -> None:
    posts = load()
    sources = source_of(posts)
    assert set(sources.values()) == SOURCES
    tracker = StoryTracker("ottawa")  # default TTL 6 h: two threads have gaps of 13 and 22 h
    for post in posts:
        update = tracker.learn_one(post)
        if post.get("reply_to"):
            # As assigned on arrival: the thread's source is the root and the first post.
            assert update.story["cascade_root"] == sources[post["id"]]
            assert update.story["first_post"]["id"] == sources[post["id"]]
            assert not update.is_new_story
    assert tracker.state["stats"]["reopened"] >= 2
    assert tracker.state["stats"]["opened"] == 3


def test_answers_that_arrive_before_their_parents_are_merged_into_the_thread() -> None:
    posts = load()
    sources = source_of(posts)
    depth: dict[str, int] = {}
    for post in posts:  # file order: parents first
        parent = post.get("reply_to")
        depth[post["id"]] = 0 if parent is None else depth[parent] + 1
    rng = random.Random(5)
    # Delivery: each post up to 20 minutes late, so many answers come before their parents.
    delivered = sorted(
        posts,
        key=lambda p: parse_event_time(p["created_at"]).timestamp() + rng.uniform(0, 1200),
    )
    early = sum(
        1
        for i, p in enumerate(delivered)
        if p.get("reply_to") in {q["id"] for q in delivered[i + 1 :]}
    )
    assert early >= 3
    tracker = StoryTracker("ottawa", StoryConfig(story_ttl_seconds=48 * 3600))
    merged = 0
    for post in delivered:
        merged += len(tracker.learn_one(post).merged)
    assert merged >= 1
    roots = final_roots(tracker)
    assert {pid: root for pid, (_, root) in roots.items()} == sources
    assert {pid: e[1] for pid, e in tracker.state["posts"].items()} == depth
    stories = {story for story, _ in roots.values()}
    assert len(stories) == 3 == len(tracker.stories())
    for story in tracker.stories():
        assert story["first_post"]["id"] in SOURCES
        assert story["cascade_root"] == story["first_post"]["id"]
        members = [p for p in posts if sources[p["id"]] == story["cascade_root"]]
        assert story["posts"] == len(members)
        assert story["depth"] == max(depth[p["id"]] for p in members)
        assert story["reach"] == sum(p["author"]["followers"] for p in members)


def test_repairs_survive_the_state_going_through_json() -> None:
    posts = load()
    rng = random.Random(5)
    delivered = sorted(
        posts,
        key=lambda p: parse_event_time(p["created_at"]).timestamp() + rng.uniform(0, 1200),
    )

    def run(persist: bool) -> list[tuple[str, bool, tuple[str, ...]]]:
        tracker = StoryTracker("ottawa")
        out = []
        for post in delivered:
            update = tracker.learn_one(post)
            out.append((update.story_id, update.is_new_story, update.merged))
            if persist:
                state = orjson.loads(orjson.dumps(tracker.state))
                tracker = StoryTracker("ottawa", state=state)
        return out

    assert run(True) == run(False)
