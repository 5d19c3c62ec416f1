"""Signals through a real broker: a story's origin and spread read back from the signals topic,
and ops feedback taught to the running worker's sentiment model (bad feedback dead-lettered)."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from pipeline.models.sentiment import SentimentModel, shipped_prior
from pipeline.models.signals import SignalsConfig, SubjectSignalsModel
from pipeline.runtime.settings import Settings
from pipeline.tools.produce import produce_raw, produce_to
from schemas import DeadLetter
from schemas.signals import SubjectSignals

from .conftest import StartWorker
from .helpers import T0, metric, post, read_routed, read_topic, wait_for

pytestmark = pytest.mark.integration

VIDEO = "@united baggage handler throws a guitar on the tarmac, watch the video"


def story_stream() -> list[bytes]:
    """A video on tiktok, reposted on twitter, then quoted by news; ordinary chatter around it.

    Reposts arrive first: the origin must still be the video, by event time and cascade."""
    video = post(
        0,
        VIDEO,
        minutes=0.0,
        platform="tiktok",
        author={"id": "filmer", "handle": "filmer", "followers": 50_000},
    )
    reposts = [post(n, VIDEO, minutes=1.0 + n * 0.1, repost_of="p0") for n in range(1, 9)]
    quotes = [
        post(
            n,
            f"@united responds to guitar video, story {n}",
            minutes=3.0 + n * 0.1,
            platform="news",
            quote_of="p1",
        )
        for n in range(9, 12)
    ]
    chatter = [
        post(50 + n, f"@united flight {n} boarded on time", minutes=0.5 + n) for n in range(3)
    ]
    closing = [post(99, "@united thanks for the upgrade", minutes=10.0)]
    return [*reposts[:2], video, *reposts[2:], *chatter, *quotes, *closing]


async def test_story_origin_spread_and_leaders_on_the_signals_topic(
    settings: Settings, start_worker: StartWorker
) -> None:
    worker = await start_worker(settings)
    messages = story_stream()
    assert await produce_raw(settings, messages) == len(messages)
    await wait_for(
        lambda: metric(worker, "crisiswatch_signals_posts_total") >= len(messages),
        60.0,
        "the signals stage to take every post",
    )
    # Each post in a later minute than the last closes that minute: reports as of 10:02
    # (posts up to 1.8, incl. the late video), 10:03, 10:04, and 10:05 (closed by the post at 10).
    records = await read_topic(settings, settings.topic_prefix + "signals", expected=4)
    reports = [SubjectSignals.from_bytes(r.value) for r in records]
    assert {r.key for r in records} == {b"united"}
    assert [r.as_of for r in reports] == [T0 + timedelta(minutes=m) for m in (2, 3, 4, 5)]
    last = reports[-1]
    assert last.posts == len(messages) - 1  # the closing post is after as_of

    story = last.stories[0]
    assert story.posts == 12  # video + 8 reposts + 3 quotes; the chatter is another story
    assert story.first_post.id == "p0"
    assert story.origin_platform == "tiktok"
    assert story.initiator.id == "filmer"
    assert story.cascade_root == "p0"
    assert [p.platform for p in story.platforms] == ["tiktok", "twitter", "news"]
    assert story.platforms[0].first_seen == T0
    assert story.depth == 2  # video <- repost p1 <- news quotes
    assert story.spread == "widespread"
    assert story.audience == 50_000 + sum(10 * n for n in range(1, 12))
    assert story.leaders[0].id == "filmer"
    assert story.forecast.projected_reach >= story.audience
    assert set(last.spread.platforms) == {"news", "tiktok", "twitter"}
    assert reports[0].stories[0].platforms[-1].platform == "twitter"  # news came later

    # The agent computes exactly what the plain model computes on the routed posts.
    routed = await read_routed(settings, expected=len(messages))
    model, scorer = SubjectSignalsModel("united", SignalsConfig()), SentimentModel()
    expected = []
    for subject_post in routed:
        routed_post = subject_post.post.model_dump(mode="json")
        expected.extend(model.learn_one(routed_post, scorer.score_one(routed_post["text"])))
    assert [r.model_dump() for r in reports] == [
        SubjectSignals.model_validate(r).model_dump() for r in expected
    ]


async def test_feedback_teaches_the_worker_and_bad_feedback_is_dead_lettered(
    settings: Settings, start_worker: StartWorker
) -> None:
    worker = await start_worker(settings)
    labelled = [
        {"text": "@united lost my bag again", "label": "negative"},
        {"text": "@united crew was lovely", "label": "positive"},
        {"text": "@united what time is boarding", "label": "neutral"},
    ]
    bad = [b"{not json", orjson.dumps({"text": "no label here"})]
    messages = [orjson.dumps(f) for f in labelled] + bad
    assert await produce_to(settings, settings.topic_prefix + "feedback", messages) == 5

    await wait_for(
        lambda: metric(worker, "crisiswatch_feedback_total") >= 5, 30.0, "feedback to be read"
    )
    m = worker.metrics()
    assert m['crisiswatch_feedback_total{outcome="learned"}'] == 3
    assert m['crisiswatch_feedback_total{outcome="rejected"}'] == 2
    assert m['crisiswatch_model_updates_total{model="sentiment"}'] == 3

    letters = await read_topic(settings, settings.topic_prefix + "posts.dlq", expected=2)
    decoded = sorted((DeadLetter.from_bytes(r.value) for r in letters), key=lambda d: d.reason)
    assert [(d.reason, d.source.topic) for d in decoded] == [
        ("invalid_field", settings.topic_prefix + "feedback"),
        ("not_json", settings.topic_prefix + "feedback"),
    ]
    assert bytes(decoded[1].raw) == b"{not json"


async def test_a_restarted_worker_loads_the_model_snapshot_instead_of_relearning(
    settings: Settings, start_worker: StartWorker
) -> None:
    fast = settings.replace(sentiment_snapshot_seconds=0.0)  # a snapshot after every batch
    labelled = [
        {"text": "@united lost my bag again", "label": "negative"},
        {"text": "@united crew was lovely", "label": "positive"},
        {"text": "@united what time is boarding", "label": "neutral"},
    ]
    first = await start_worker(fast)
    feedback = settings.topic_prefix + "feedback"
    assert await produce_to(settings, feedback, [orjson.dumps(f) for f in labelled]) == 3
    await wait_for(
        lambda: (
            metric(first, 'crisiswatch_model_snapshots_total{model="sentiment"}') >= 1
            and metric(first, "crisiswatch_sentiment_model_corrections") == 3
        ),
        30.0,
        "the first worker to learn the feedback and write a snapshot",
    )
    first.stop()

    second = await start_worker(fast)
    await wait_for(
        lambda: metric(second, "crisiswatch_sentiment_model_corrections") == 3,
        30.0,
        "the restarted worker to load the snapshot",
    )
    # It did not relearn the feedback history: it read none of it.
    assert metric(second, 'crisiswatch_feedback_total{outcome="learned"}') == 0
    # ... and learns on from where the snapshot ends.
    later = {"text": "@united the gate agent was rude", "label": "negative"}
    assert await produce_to(settings, feedback, [orjson.dumps(later)]) == 1
    await wait_for(
        lambda: metric(second, "crisiswatch_sentiment_model_corrections") == 4,
        30.0,
        "the restarted worker to learn new feedback",
    )
    assert metric(second, 'crisiswatch_feedback_total{outcome="learned"}') == 1
    second.stop()

    # A worker pinned to a version runs exactly that snapshot, frozen (a replay does this).
    pinned = await start_worker(
        fast.replace(sentiment_model_version=f"{shipped_prior().version}+3")
    )
    await wait_for(
        lambda: metric(pinned, "crisiswatch_sentiment_model_corrections") == 3,
        30.0,
        "the pinned worker to load version +3",
    )
    assert metric(pinned, 'crisiswatch_feedback_total{outcome="learned"}') == 0
