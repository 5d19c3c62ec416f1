from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from pipeline.models.story_index import StoryTracker
from pipeline.models.story_text import content_words, minhash
from pipeline.models.story_types import StoryConfig, StoryStep, StoryUpdate, story_id_for

T0 = datetime(2015, 2, 20, 10, 0, tzinfo=UTC)
BAG = "lost my bag again at O'Hare, worst service ever, nobody answers the phone"
LEGROOM = "Great legroom on the new planes and the wifi finally works, loving it"


def iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def post(
    pid: str,
    minutes: float,
    text: str = BAG,
    author: str = "a1",
    followers: int = 0,
    platform: str = "twitter",
    **parents: str,
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "id": pid,
        "platform": platform,
        "author": {"id": author, "handle": f"h_{author}", "followers": followers},
        "text": text,
        "created_at": iso(minutes),
        "reply_to": parents.get("reply_to"),
        "repost_of": parents.get("repost_of"),
        "quote_of": parents.get("quote_of"),
        "language": "en",
        "url": None,
    }


def topic(n: int) -> str:
    """Texts that share no words with each other or with BAG / LEGROOM."""
    return f"topic{n} alpha{n} beta{n} gamma{n} delta{n}"


def run(
    posts: list[dict[str, Any]], config: StoryConfig | None = None, persist: bool = False
) -> tuple[list[StoryUpdate], StoryTracker]:
    """Feed posts; with persist, the state goes through JSON between posts, as in the table."""
    tracker = StoryTracker("united", config)
    updates = []
    for p in posts:
        updates.append(tracker.learn_one(p))
        if persist:
            tracker = StoryTracker("united", config, orjson.loads(orjson.dumps(tracker.state)))
    return updates, tracker


def test_first_post_origin_platform_and_initiator() -> None:
    posts = [
        post("p1", 0, author="alice", followers=120, platform="reddit"),
        post("p2", 1, author="bob", followers=50),
        post("p3", 2, author="carol", followers=7),
    ]
    updates, tracker = run(posts)
    assert [u.is_new_story for u in updates] == [True, False, False]
    assert len({u.story_id for u in updates}) == 1
    story = updates[-1].story
    assert story["first_post"] == {
        "id": "p1",
        "platform": "reddit",
        "author_id": "alice",
        "author_handle": "h_alice",
        "followers": 120,
        "created_at": "2015-02-20T10:00:00Z",
        "text": BAG,
    }
    assert story["origin_platform"] == "reddit"
    assert story["initiator"] == {"id": "alice", "handle": "h_alice", "followers": 120}
    assert (story["posts"], story["unique_authors"], story["audience"]) == (3, 3, 177)
    assert story["reach"] == 177
    assert story["started_at"] == "2015-02-20T10:00:00Z"
    assert story["last_seen"] == "2015-02-20T10:02:00Z"
    assert tracker.stories() == [tracker.story(story["story_id"])]


def test_repost_chain_root_and_depth() -> None:
    # A <- B reposts A <- C replies to B: C's text shares nothing with A's, the cascade decides.
    posts = [
        post("A", 0, author="alice"),
        post("B", 1, text="", author="bob", repost_of="A"),
        post("C", 2, text="this is outrageous, refund everyone", author="carol", reply_to="B"),
    ]
    updates, tracker = run(posts)
    assert [u.depth for u in updates] == [0, 1, 2]
    assert len({u.story_id for u in updates}) == 1
    story = updates[-1].story
    assert (story["cascade_root"], story["depth"], story["breadth"]) == ("A", 2, 1)
    assert [tracker.author_of(p) for p in ("A", "B", "C", "Z")] == ["alice", "bob", "carol", None]


def test_unknown_parent_is_the_best_known_root() -> None:
    posts = [
        post("B", 0, text="", repost_of="X"),  # X was never seen
        post("C", 1, text="", author="carol", reply_to="B"),
    ]
    updates, _ = run(posts)
    assert [u.depth for u in updates] == [1, 2]
    assert updates[-1].story["cascade_root"] == "X"


def test_breadth_is_the_most_direct_children_of_one_post() -> None:
    posts = [post("A", 0)]
    posts += [post(f"R{n}", 1 + n, text="", author=f"u{n}", reply_to="A") for n in range(3)]
    posts.append(post("D", 5, text="", author="d", reply_to="R0"))
    story = run(posts)[0][-1].story
    assert (story["breadth"], story["depth"]) == (3, 2)


def test_near_duplicate_joins_and_unrelated_text_starts_a_new_story() -> None:
    posts = [
        post("p1", 0, text=f"@united {BAG} https://t.co/abc123"),
        post("p2", 1, text=f"@delta_fan {BAG.upper()}!!! http://bit.ly/x9", author="b"),
        post("p3", 2, text=LEGROOM, author="c"),
    ]
    updates, tracker = run(posts)
    assert [u.is_new_story for u in updates] == [True, False, True]
    assert updates[0].story_id == updates[1].story_id != updates[2].story_id
    assert [s["posts"] for s in tracker.stories()] == [2, 1]


def test_normalisation_strips_urls_handles_punctuation_and_subject_words() -> None:
    words = content_words("RT @bob: United's CEO can't fix https://x.co/1 this!!")
    assert words == ["united", "ceo", "cant", "fix"]
    tracker = StoryTracker("united")
    assert "united" in tracker._stop_words


def test_platform_order_and_isolated_versus_widespread() -> None:
    posts = [
        post("p1", 0, platform="tiktok", author="a"),
        post("p2", 5, platform="tiktok", author="b"),
        post("p3", 9, platform="twitter", author="c"),
        post("p4", 30, platform="news", author="d"),
        post("p5", 31, platform="twitter", author="e"),
    ]
    updates, _ = run(posts)
    assert [u.story["spread"] for u in updates] == ["isolated"] * 2 + ["widespread"] * 3
    assert updates[-1].story["platforms"] == [
        {"platform": "tiktok", "first_seen": "2015-02-20T10:00:00Z"},
        {"platform": "twitter", "first_seen": "2015-02-20T10:09:00Z"},
        {"platform": "news", "first_seen": "2015-02-20T10:30:00Z"},
    ]
    assert updates[-1].story["origin_platform"] == "tiktok"


def test_many_authors_on_one_platform_is_widespread() -> None:
    config = StoryConfig(widespread_authors=3)
    posts = [post(f"p{n}", n, author=f"u{n % 3}") for n in range(6)]
    updates, _ = run(posts, config)
    assert [u.story["spread"] for u in updates] == ["isolated"] * 2 + ["widespread"] * 4


def test_a_late_earlier_post_becomes_the_origin() -> None:
    posts = [post("p2", 10, author="b", platform="twitter"), post("p1", 2, author="a")]
    posts.append(post("p0", 1, author="z", platform="tiktok"))
    updates, _ = run(posts)
    story = updates[-1].story
    assert story["story_id"] == story_id_for("united", "p2")  # the id stays
    assert (story["first_post"]["id"], story["initiator"]["id"]) == ("p0", "z")
    assert [p["platform"] for p in story["platforms"]] == ["tiktok", "twitter"]
    assert (story["started_at"], story["last_seen"]) == (iso(1), iso(10))


def test_story_expires_after_ttl_of_event_time() -> None:
    config = StoryConfig(story_ttl_seconds=3600)
    tracker = StoryTracker("united", config)
    first = tracker.learn_one(post("p1", 0))
    assert tracker.learn_one(post("p2", 60, text=topic(1))).closed == ()  # exactly the TTL
    update = tracker.learn_one(post("p3", 61, text=topic(2)))
    assert update.closed == (first.story_id,)
    assert tracker.story(first.story_id) is None
    assert [s["first_post"]["id"] for s in tracker.stories()] == ["p2", "p3"]
    [closed] = tracker.closed_stories()
    assert (closed["story_id"], closed["closed"], closed["posts"]) == (first.story_id, "expired", 1)
    assert closed["closed_at"] == iso(61)
    # The same text now starts a new story; a reply to the closed story's post reopens it (from
    # its kept summary), so the thread keeps its origin.
    again = tracker.learn_one(post("p4", 62))
    assert again.is_new_story
    reply = tracker.learn_one(post("p5", 62, text="", author="r", reply_to="p1"))
    assert (reply.story_id, reply.is_new_story, reply.depth) == (first.story_id, False, 1)
    story = reply.story
    assert (story["first_post"]["id"], story["cascade_root"], story["posts"]) == ("p1", "p1", 2)
    assert story["unique_authors"] == 2 and tracker.closed_stories() == []


def test_active_stories_are_capped_and_the_stalest_evicted() -> None:
    config = StoryConfig(max_active_stories=3, max_closed_stories=1)
    updates, tracker = run([post(f"p{n}", n, text=topic(n)) for n in range(5)], config)
    assert [s["first_post"]["id"] for s in tracker.stories()] == ["p2", "p3", "p4"]
    assert [u.closed for u in updates] == [
        (),
        (),
        (),
        (updates[0].story_id,),
        (updates[1].story_id,),
    ]
    assert [s["story_id"] for s in tracker.closed_stories()] == [updates[1].story_id]
    assert tracker.state["stats"]["evicted"] == 2
    # An update moves its story to the back of the eviction queue.
    tracker.learn_one(post("q2", 6, text=topic(2), author="x"))
    tracker.learn_one(post("q9", 7, text=topic(9)))
    assert sorted(s["first_post"]["id"] for s in tracker.stories()) == ["p2", "p4", "q9"]


def test_recent_post_map_authors_and_series_are_capped() -> None:
    config = StoryConfig(
        max_recent_posts=10, max_authors_per_story=4, reach_points=5, velocity_minutes=3
    )
    posts = [post(f"p{n}", n * 0.5, author=f"u{n}", followers=n) for n in range(30)]
    updates, tracker = run(posts, config)
    story = updates[-1].story
    assert len(tracker.state["posts"]) == 10
    assert tracker.author_of("p29") == "u29" and tracker.author_of("p0") is None
    assert (story["posts"], story["unique_authors"], story["audience"]) == (30, 4, 6)
    assert story["reach"] == sum(range(30))  # every post counts, past the author cap too
    assert story["authors_capped"]
    assert tracker.story_authors(story["story_id"]) == ["u0", "u1", "u2", "u3"]
    assert story["reach_points"] == [[T0.timestamp() + n * 30, n] for n in range(25, 30)]
    minute = int(T0.timestamp())
    assert story["per_minute"] == [[minute + 60 * m, 2] for m in (12, 13, 14)]


def test_late_post_counts_in_its_minute() -> None:
    posts = [post("p1", 0), post("p2", 2), post("p3", 1), post("p4", 1.5)]
    story = run(posts)[0][-1].story
    minute = int(T0.timestamp())
    assert story["per_minute"] == [[minute, 1], [minute + 60, 2], [minute + 120, 1]]


def test_redelivered_post_is_a_duplicate_and_changes_nothing() -> None:
    tracker = StoryTracker("united")
    first = tracker.learn_one(post("p1", 0))
    tracker.learn_one(post("p2", 1, author="b"))
    before = orjson.dumps(tracker.state)
    again = tracker.learn_one(post("p1", 0))
    assert (again.duplicate, again.story_id, again.story["posts"]) == (True, first.story_id, 2)
    tracker.state["stats"]["duplicates"] -= 1
    assert orjson.dumps(tracker.state) == before
    # Still a duplicate after its story has closed: the closed summary comes back.
    tracker.learn_one(post("p3", 500, text=topic(1)))
    late = tracker.learn_one(post("p1", 0))
    assert (late.duplicate, late.story["closed"], late.story["posts"]) == (True, "expired", 2)
    assert tracker.state["stats"]["duplicates"] == 1  # (one was subtracted above)


STREAM = [
    post("A", 0, author="alice", followers=900, platform="tiktok"),
    post("B", 1, text="", author="bob", followers=20, repost_of="A"),
    post("C", 2, text="what a joke, refund everyone now", author="carol", reply_to="B"),
    post("D", 3, text=f"@someone {BAG} https://t.co/q", author="dan", platform="news"),
    post("E", 4, text=LEGROOM, author="erin"),
    post("F", 5, text=LEGROOM + " really", author="fay", quote_of="zzz"),
    post("G", 6, text=topic(1), author="gus"),
    post("H", 200, text=topic(2), author="hal"),
    post("I", 201, text="", author="ivy", repost_of="C"),
    post("J", 199, text=topic(2), author="jo"),
    post("A", 0, author="alice", followers=900, platform="tiktok"),
]


def test_same_results_when_state_goes_through_json_between_posts() -> None:
    config = StoryConfig(story_ttl_seconds=3600, max_active_stories=3)
    plain, plain_tracker = run(STREAM, config)
    persisted, persisted_tracker = run(STREAM, config, persist=True)
    assert plain == persisted
    assert orjson.dumps(plain_tracker.state) == orjson.dumps(persisted_tracker.state)
    assert plain_tracker.stories() == persisted_tracker.stories()


def test_learn_is_learn_one_without_the_summary() -> None:
    """The signals model takes posts with ``learn`` (no per-post summary, which it never read):
    the same steps and the same state as ``learn_one``, whose summaries the tools read."""
    config = StoryConfig(story_ttl_seconds=3600, max_active_stories=3)
    updates, summarised = run(STREAM, config)
    quiet = StoryTracker("united", config)
    steps = [quiet.learn(p) for p in STREAM]
    assert [
        StoryStep(**{k: getattr(u, k) for k in asdict(s)})
        for u, s in zip(updates, steps, strict=True)
    ] == steps
    assert orjson.dumps(quiet.state) == orjson.dumps(summarised.state)
    assert any(s.duplicate for s in steps) and any(s.closed for s in steps)


def test_story_ids_are_deterministic_across_instances_and_processes() -> None:
    ids = [u.story_id for u in run(STREAM)[0]]
    assert ids == [u.story_id for u in run(STREAM)[0]]
    assert ids[0] == story_id_for("united", "A")
    code = (
        "from pipeline.models.story_types import story_id_for;"
        "from pipeline.models.story_text import minhash, content_words;"
        "print(story_id_for('united', 'A'), minhash(content_words('a b c d e f'), 2, 32))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    expected = f"{ids[0]} {minhash(content_words('a b c d e f'), 2, 32)}"
    assert out.stdout.strip() == expected


@pytest.mark.parametrize(
    "bad",
    [
        {"similarity_threshold": 0.0},
        {"minhash_bands": 20, "minhash_rows": 2},
        {"story_ttl_seconds": 0},
    ],
)
def test_bad_config_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        StoryConfig(**bad)


def test_audience_counts_authors_once_reach_counts_every_post() -> None:
    posts = [post("p1", 0, author="a", followers=100), post("p2", 1, author="a", followers=100)]
    posts.append(post("p3", 2, author="b", followers=10))
    story = run(posts)[0][-1].story
    assert (story["unique_authors"], story["audience"], story["reach"]) == (2, 110, 210)
