from __future__ import annotations

import orjson

from pipeline.ingest.routing import RecentPosts, Routed, route
from pipeline.ingest.validation import Limits, Rejection
from pipeline.ingest.watchlist import Subject, WatchList
from schemas import SubjectPost

LIMITS = Limits(max_raw_bytes=4096, max_text_chars=1000)
WATCH = WatchList(
    [
        Subject("united", "United", handles=("united",)),
        Subject("delta", "Delta", handles=("delta",)),
    ]
)


def raw(post_id: str, text: str) -> bytes:
    return orjson.dumps(
        {
            "id": post_id,
            "platform": "twitter",
            "author": {"id": "a", "handle": "h"},
            "text": text,
            "created_at": "2015-02-20T10:00:00Z",
        }
    )


def test_routes_to_every_subject_keyed_by_subject() -> None:
    result = route(raw("1", "@united @delta both late"), LIMITS, WATCH, RecentPosts(10))
    assert isinstance(result, Routed)
    assert result.outcome == "routed"
    records = result.subject_posts()
    assert [key for key, _ in records] == [b"delta", b"united"]
    assert [SubjectPost.from_bytes(v).subject for _, v in records] == ["delta", "united"]


def test_unmatched_and_rejected() -> None:
    recent = RecentPosts(10)
    unmatched = route(raw("1", "no subject here"), LIMITS, WATCH, recent)
    assert isinstance(unmatched, Routed) and unmatched.outcome == "unmatched"
    assert unmatched.subject_posts() == []
    assert isinstance(route(b"nope", LIMITS, WATCH, recent), Rejection)


def test_repeats_are_duplicates_within_capacity() -> None:
    recent = RecentPosts(2)
    outcomes = [
        route(raw(i, "@united x"), LIMITS, WATCH, recent) for i in ["1", "2", "1", "3", "4", "1"]
    ]
    assert [o.outcome for o in outcomes if isinstance(o, Routed)] == [
        "routed",
        "routed",
        "duplicate",
        "routed",
        "routed",
        "routed",  # "1" aged out
    ]
    assert outcomes[2].subject_posts() == []  # type: ignore[union-attr]


def test_a_post_naming_too_many_subjects_is_dead_lettered_not_fanned_out() -> None:
    # Issue 16, defect 8: with a 1,000-subject watch list, 30 posts naming every subject became
    # 30,000 routed posts and 1.1 GB.
    many = WatchList([Subject(f"s{n}", f"S{n}", handles=(f"brand{n}",)) for n in range(1_000)])
    everyone = " ".join(f"@brand{n}" for n in range(1_000))
    recent = RecentPosts(10)
    result = route(raw("1", everyone), Limits(65_536, 10_000), many, recent)
    assert isinstance(result, Rejection) and result.reason == "too_many_subjects"
    assert "1000 monitored subjects > max_subjects_per_post 20" in result.detail
    # Sent again, it is dead-lettered again: a rejected post is not remembered as processed.
    again = route(raw("1", everyone), Limits(65_536, 10_000), many, recent)
    assert isinstance(again, Rejection) and again.reason == "too_many_subjects"
    at_the_cap = " ".join(f"@brand{n}" for n in range(20))
    routed = route(raw("2", at_the_cap), Limits(65_536, 10_000), many, RecentPosts(10))
    assert isinstance(routed, Routed) and len(routed.subject_posts()) == 20
    capped = Limits(65_536, 10_000, max_subjects_per_post=1)
    assert isinstance(route(raw("3", "@brand1 @brand2"), capped, many, RecentPosts(10)), Rejection)
