"""A few hundred generated bad and good messages through a real worker on the real broker.

The worker keeps running, every bad message is on posts.dlq (one letter each, at its own source
offset, with the reason ingest's validation gives it), every good one is routed, and the
worker's counters reconcile exactly: received = processed + dead-lettered, per reason too."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import orjson
import pytest

from pipeline.ingest.validation import Limits, Rejection, validate_raw
from pipeline.runtime.kafka import make_producer, topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import wait_until_settled
from schemas import REASONS, DeadLetter, SubjectPost

from .conftest import StartWorker
from .helpers import T0, post, read_routed, read_topic

pytestmark = pytest.mark.integration

SEED = 7


def body(n: int, **changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"f{n}",
        "platform": "twitter",
        "author": {"id": f"u{n}", "handle": f"user{n}", "followers": n},
        "text": f"@united flight {n} delayed again",
        "created_at": T0.timestamp() + 30 * n,
    }
    out.update(changes)
    return out


def bad_message(rng: random.Random, n: int) -> bytes:
    """One malformed, huge, nested, wrongly typed, non-UTF-8 or adversarial message."""
    kind = rng.randrange(9)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 200))
    if kind == 1:
        opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
        depth = rng.choice([1_025, 1_500, 5_000])
        return opener * depth + closer * depth
    if kind == 2:
        return orjson.dumps(body(n, text="z" * rng.randrange(70_000, 150_000)))
    if kind == 3:
        raw = orjson.dumps(body(n))
        cut = rng.randrange(len(raw))
        return raw[:cut] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"]) + raw[cut:]
    if kind == 4:
        field = rng.choice(["id", "author", "text", "platform", "url", "reply_to"])
        value: Any = rng.choice([None, True, 3.5, [], {}, [[["deep"]]], {"$ne": 1}])
        return orjson.dumps(body(n, **{field: value}))
    if kind == 5:
        stamp = rng.choice(
            ["yesterday", "9999-12-31T23:59:59-01:00", "1970-01-01T00:00:00Z", 1e300, [2015]]
        )
        return orjson.dumps(body(n, created_at=stamp))
    if kind == 6:
        return orjson.dumps(body(n, text=rng.choice(["x" * 10_001, "e\u0301" * 5_001])))
    if kind == 7:
        over: dict[str, Any] = rng.choice(
            [
                {"id": "i" * 300},
                {"author": {"id": "a", "handle": "h" * 65}},
                {"url": "https://" + "u" * 3_000},
                {"platform": "<script>"},
                {"schema_version": [[1]]},
            ]
        )
        return orjson.dumps(body(n, **over))
    return rng.choice([b"", b"null", b"[]", b'"post"', b"{'id': 1}", b'{"text": "\\ud800"}'])


def good_message(rng: random.Random, n: int) -> bytes:
    text = rng.choice(
        [
            "@united lost my bag",
            "\u202e@united\u202c reversed, still a post",
            "<script>alert(1)</script> @united",
            "'; DROP TABLE posts; -- @united",
            "nothing to see here",
            # Issue 16: terminal control codes (defect 6), mathtext (5), one subject named 200
            # times (8: counts once; the cap on subjects is in the last test).
            "@united \x1b]0;PWNED\x07\x1b[2J",
            "@united $\\undefinedcmd$ ${{{{{{{{{{{{{{{{$",
            "@united " * 200,
        ]
    )
    handle = rng.choice([f"user{n}", "$\\undefinedcmd$", "\x1b[2J"])
    return orjson.dumps(body(n, text=text, author={"id": f"u{n}", "handle": handle}))


async def test_generated_bad_and_good_messages_dead_letter_and_reconcile(
    settings: Settings, start_worker: StartWorker
) -> None:
    rng = random.Random(SEED)
    messages: list[bytes | None] = [
        bad_message(rng, n) if rng.random() < 0.7 else good_message(rng, n) for n in range(400)
    ]
    messages[200] = None  # a tombstone
    limits = Limits(max_raw_bytes=settings.max_raw_bytes, max_text_chars=settings.max_text_chars)
    # Reference: what validation says of each message, before any Kafka is involved.
    expected = {
        offset: result.reason
        for offset, raw in enumerate(messages)
        if isinstance(result := validate_raw(raw, limits), Rejection)
    }
    good = len(messages) - len(expected)
    assert 250 <= len(expected) <= 320 and good >= 80
    # Reasons given past validation: by routing, by a later stage.
    later = {"processing_error", "future_timestamp", "too_many_subjects"}
    assert set(expected.values()) == set(REASONS) - later

    worker = await start_worker(settings)
    names = topic_names(settings)
    producer = make_producer(settings)
    await producer.start()
    try:
        for raw in messages:  # one partition: a message's offset is its index
            await producer.send(
                names.posts_raw, value=raw, key=b"tombstone" if raw is None else None
            )
        await producer.flush()
    finally:
        await producer.stop()

    figures = await asyncio.to_thread(wait_until_settled, worker, len(messages), 45.0)
    assert worker.running
    letters = [
        DeadLetter.from_bytes(r.value)
        for r in await read_topic(settings, names.posts_dlq, expected=len(expected))
    ]
    assert {letter.source.offset: letter.reason for letter in letters} == expected
    assert len(letters) == len(expected)  # one letter each
    for letter in letters:
        raw = messages[letter.source.offset] or b""
        assert letter.detail and letter.source.topic == names.posts_raw
        assert letter.raw_size == len(raw)
        assert letter.raw == raw[: settings.max_raw_bytes]

    m = worker.metrics()
    assert m["crisiswatch_posts_received_total"] == len(messages)
    assert figures["processed"] == good and figures["dead_lettered"] == len(expected)
    for reason, count in Counter(expected.values()).items():
        assert m[f'crisiswatch_posts_dead_lettered_total{{reason="{reason}"}}'] == count
    routed = await read_routed(settings, expected=int(figures["routed"]))
    assert len(routed) == figures["routed"] > 0
    assert {p.subject for p in routed} == {"united"}


async def test_stages_past_ingest_dead_letter_what_they_cannot_process(
    settings: Settings, start_worker: StartWorker
) -> None:
    """Signals and detector dead-letter a record they cannot process (issue 16, defect 7), and
    signals a post far ahead of its subject's event time that the stream did not follow (1);
    ingest a post naming more subjects than the cap (8)."""
    settings = settings.replace(max_subjects_per_post=2)
    worker = await start_worker(settings)
    names = topic_names(settings)
    broken_posts = [
        b"not json",
        b'{"subject": "united"}',
        b'{"subject": "united", "post": 7}',
        # A batch record with one bad post: the good one is learnt, the bad one dead-lettered.
        orjson.dumps({"subject": "united", "posts": [orjson.loads(post(97)), 7]}),
    ]
    broken_reports = [b"\xff\xfe", b'{"subject": "united", "as_of": "then"}']
    timeline = [post(n, minutes=n) for n in range(5)]
    timeline.insert(2, orjson.dumps(body(99, created_at="2099-12-31T00:00:00Z")))
    producer = make_producer(settings)
    await producer.start()
    try:
        for raw in broken_posts:
            await producer.send(names.posts, value=raw, key=b"united")
        for raw in broken_reports:
            await producer.send(names.signals, value=raw, key=b"united")
        for raw in timeline:
            await producer.send(names.posts_raw, value=raw)
        fan_out = orjson.dumps(body(98, text="@united @delta @jetblue all late"))
        await producer.send(names.posts_raw, value=fan_out)
        await producer.flush()
    finally:
        await producer.stop()
    expected = {
        ("signals", "processing_error"): len(broken_posts),
        ("detector", "processing_error"): len(broken_reports),
        ("signals", "future_timestamp"): 1,
        ("ingest", "too_many_subjects"): 1,
    }
    letters = [
        DeadLetter.from_bytes(r.value)
        for r in await read_topic(settings, names.posts_dlq, expected=sum(expected.values()))
    ]
    assert worker.running
    assert Counter((letter.source.topic, letter.reason) for letter in letters) == {
        (names.posts, "processing_error"): len(broken_posts),
        (names.signals, "processing_error"): len(broken_reports),
        (names.posts, "future_timestamp"): 1,
        (names.posts_raw, "too_many_subjects"): 1,
    }
    future = next(letter for letter in letters if letter.reason == "future_timestamp")
    assert SubjectPost.from_bytes(future.raw).post.id == "f99"
    assert {letter.raw for letter in letters if letter.source.topic == names.signals} == set(
        broken_reports
    )
    m = worker.metrics()
    for (stage, reason), count in expected.items():
        assert m[f'crisiswatch_dead_lettered_total{{reason="{reason}",stage="{stage}"}}'] == count
    # Signals reconcile: taken = learnt + held + dead-lettered.
    taken = m["crisiswatch_signals_posts_total"]
    learnt = m['crisiswatch_model_updates_total{model="spread"}']
    held = m["crisiswatch_signals_held_posts"]
    assert taken == len(broken_posts) + 1 + len(timeline)  # the batch record holds two posts
    assert taken == learnt + held + expected["signals", "processing_error"] + 1
