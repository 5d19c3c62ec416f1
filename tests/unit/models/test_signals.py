"""The composed per-subject signals on small constructed streams with known answers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pipeline.models.sentiment import SentimentScore
from pipeline.models.signals import SignalsConfig, SubjectSignalsModel
from schemas.signals import Leader, PostRef, StorySignal, SubjectSignals

T0 = datetime(2020, 3, 1, 0, 0, tzinfo=UTC)
NEUTRAL = SentimentScore(compound=0.1, label="neutral", proba={})
NEGATIVE = SentimentScore(compound=-0.8, label="negative", proba={})


def post(
    pid: str,
    minutes: float,
    text: str,
    platform: str = "twitter",
    author: str = "",
    followers: int = 10,
    **parents: str,
) -> dict[str, Any]:
    return {
        "id": pid,
        "platform": platform,
        "author": {
            "id": author or f"a-{pid}",
            "handle": author or f"h-{pid}",
            "followers": followers,
        },
        "text": text,
        "created_at": (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "reply_to": None,
        "repost_of": None,
        "quote_of": None,
        **parents,
    }


CHATTER = [
    "flight was on time today",
    "nice lounge at the airport",
    "the coffee on board was ok",
    "boarding took a while",
    "seat was comfortable enough",
    "landed early for once",
]


def quiet_day() -> list[tuple[dict[str, Any], SentimentScore]]:
    # One ordinary post every 10 minutes for 24 hours: varied topics, neutral tone.
    return [(post(f"q{n}", n * 10, f"{CHATTER[n % 6]} number {n}"), NEUTRAL) for n in range(144)]


def crisis() -> list[tuple[dict[str, Any], SentimentScore]]:
    start = 24 * 60 + 5
    events = [
        (
            post(
                "v0",
                start,
                "acme employee kicks a passenger video",
                platform="tiktok",
                author="filmer",
                followers=50_000,
            ),
            NEGATIVE,
        )
    ]
    # Reposts and replies cascade from the video, jumping to twitter, then news.
    for n in range(1, 60):
        parent = "v0" if n < 20 else f"c{n - 10}"
        platform = "twitter" if n < 45 else "news"
        events.append(
            (
                post(
                    f"c{n}",
                    start + n * 0.5,
                    f"shocking acme video {n}",
                    platform=platform,
                    followers=100 + n,
                    repost_of=parent,
                ),
                NEGATIVE,
            )
        )
    return events


def as_records(reports: list[dict[str, Any]]) -> list[SubjectSignals]:
    """Each report dict is exactly a SubjectSignals record: it validates, and the record
    serialises back to the same JSON (no field more, none less, same formats)."""
    records = [SubjectSignals.model_validate(r) for r in reports]
    for report, record in zip(reports, records, strict=True):
        assert orjson.loads(record.to_bytes()) == orjson.loads(orjson.dumps(report))
        # Built field by field, in the schema's order (the topic's bytes read like the schema).
        for story in report["stories"]:
            assert list(story) == list(StorySignal.model_fields)
            assert list(story["first_post"]) == list(PostRef.model_fields)
            assert all(list(leader) == list(Leader.model_fields) for leader in story["leaders"])
        assert all(list(leader) == list(Leader.model_fields) for leader in report["leaders"])
    return records


def run(
    events: list[tuple[dict[str, Any], SentimentScore]], persist: bool = False
) -> list[SubjectSignals]:
    config = SignalsConfig()
    model = SubjectSignalsModel("acme", config)
    reports = []
    for p, score in events:
        if persist:  # through JSON between posts, as through the table
            parts = orjson.loads(orjson.dumps(model.state_parts()))
            model = SubjectSignalsModel("acme", config, parts)
        reports.extend(as_records(model.learn_one(p, score)))
    # Two more posts an hour later close the last interval: the first is more than
    # max_ahead_seconds ahead of the subject's event time, so it waits for the next to confirm it.
    for pid, minute in (("late", 24 * 60 + 95), ("later", 24 * 60 + 96)):
        reports.extend(as_records(model.learn_one(post(pid, minute, "anything else"), NEUTRAL)))
    return reports


def test_reports_at_interval_boundaries_in_event_time() -> None:
    reports = run(quiet_day()[:7])
    # Posts at minutes 0, 10, ..., 60: each closes the 1-minute interval of the one before.
    assert [r.as_of for r in reports][:3] == [T0 + timedelta(minutes=m) for m in (1, 11, 21)]
    assert reports[0].posts == 1


def test_crisis_origin_cascade_spread_sentiment() -> None:
    reports = run(quiet_day() + crisis())
    quiet = [r for r in reports if r.as_of <= T0 + timedelta(hours=24)]
    assert quiet and not any(r.sentiment.shift for r in quiet)
    assert max(r.spread.ratio for r in quiet[-50:]) < 5

    during = next(r for r in reports if r.as_of == T0 + timedelta(minutes=24 * 60 + 35))  # 1475
    story = during.stories[0]
    assert story.first_post.id == "v0"
    assert story.origin_platform == "tiktok"
    assert story.initiator.id == "filmer"
    assert story.cascade_root == "v0"
    assert [p.platform for p in story.platforms] == ["tiktok", "twitter", "news"]
    assert story.depth >= 2  # c20 reposts c10, which reposts v0
    assert story.spread == "widespread"
    assert story.negative_share == 1.0
    assert story.forecast.reach_so_far >= 50_000
    assert story.forecast.high >= story.forecast.projected_reach >= story.forecast.low
    assert story.leaders[0].id == "filmer"  # reach and reposts received
    # Ten minutes in, before the baseline has learnt any of it: 20x the usual rate.
    early = next(r for r in reports if r.as_of == T0 + timedelta(minutes=24 * 60 + 15))
    assert early.spread.ratio > 10 and early.spread.z > 3
    assert during.sentiment.shift and during.sentiment.delta < 0


def test_same_reports_with_state_through_json() -> None:
    events = quiet_day()[:40] + crisis()[:30]
    direct = [r.to_bytes() for r in run(events)]
    persisted = [r.to_bytes() for r in run(events, persist=True)]
    assert direct == persisted


def test_redelivered_post_counts_once() -> None:
    events = quiet_day()[:5]
    reports = run([*events, events[-1]])
    last_of_events = next(r for r in reports if r.as_of == T0 + timedelta(minutes=41))
    assert last_of_events.posts == 5


def test_naive_created_at_is_utc_for_every_model(monkeypatch: Any) -> None:
    """A created_at without an offset is UTC for the report clock, stories, leaders, spread
    and sentiment alike (one parse per post), whatever the machine's local zone."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        events = quiet_day()[:30] + crisis()[:20]
        naive = [
            ({**p, "created_at": p["created_at"].removesuffix("Z")}, score) for p, score in events
        ]
        assert run(naive) == run(events)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
