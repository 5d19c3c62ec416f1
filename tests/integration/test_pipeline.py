"""Posts in through a real broker, alerts and dead letters read back as a subscriber would."""

from __future__ import annotations

import base64
from datetime import timedelta

import orjson
import pytest

from pipeline.alert_feed import follow_alerts
from pipeline.produce import produce_raw
from pipeline.settings import Settings
from pipeline.volume import RULE
from schemas import Alert, DeadLetter, SubjectPost, alert_id_for

from .conftest import StartWorker
from .helpers import T0, metric, post, read_topic, wait_for

pytestmark = pytest.mark.integration


async def test_posts_in_alert_opens_escalates_resolves(
    settings: Settings, start_worker: StartWorker
) -> None:
    await start_worker(settings)
    names = settings.topic_prefix
    # threshold 5 per hour: 10 posts in one hour open (5th) and escalate (10th, 2x) an alert;
    # a post 2 hours later moves the watermark past the window and resolves it.
    burst = [post(n, minutes=3 * n) for n in range(10)]
    unrelated = [post(100, text="nice weather in Lisbon", minutes=31)]
    closing = [post(200, text="@united thanks", minutes=130)]
    sent = await produce_raw(settings, [*burst, *unrelated, *closing])
    assert sent == 12

    alerts: list[Alert] = []
    await follow_alerts(settings, alerts.append, idle_timeout=45.0, limit=3)

    window_id = alert_id_for("united", RULE, str(int(T0.timestamp()) // 3600 * 3600))
    assert [(a.alert_id, a.revision, a.state, a.severity, a.volume) for a in alerts] == [
        (window_id, 1, "opened", "medium", 5),
        (window_id, 2, "escalated", "high", 10),
        (window_id, 3, "resolved", "high", 10),
    ]
    opened = alerts[0]
    assert opened.subject == "united"
    assert opened.detected_at == T0 + timedelta(minutes=12)  # event time of the 5th post
    assert opened.started_at == T0
    assert opened.unique_authors == 5
    assert opened.audience == sum(10 * n for n in range(5))
    assert opened.evidence[0].id == "p4"  # most-followed author first
    assert alerts[2].detected_at == T0 + timedelta(hours=1, minutes=0)

    # The posts topic carries one record per subject mention, keyed by subject.
    routed = await read_topic(settings, names + "posts", expected=11)
    assert len(routed) == 11
    assert {r.key for r in routed} == {b"united"}
    assert {SubjectPost.from_bytes(r.value).post.id for r in routed} == {
        *(f"p{n}" for n in range(10)),
        "p200",
    }


async def test_malformed_posts_are_dead_lettered_with_reasons_and_counts_reconcile(
    settings: Settings, start_worker: StartWorker
) -> None:
    worker = await start_worker(settings)
    bad = {
        b"{not json": "not_json",
        b'"just a string"': "not_object",
        b"\xff\xfe\x00garbage": "bad_encoding",
        orjson.dumps({"id": "x1", "platform": "twitter", "text": "no author"}): "missing_field",
        post(1, created_at="next tuesday"): "bad_timestamp",
        post(2, author={"id": "a", "handle": "b", "followers": "lots"}): "wrong_type",
        post(3, text="@united " + "x" * 20_000): "text_too_long",
        b'{"pad": "' + b"y" * 70_000 + b'"}': "too_large",
        orjson.dumps({"schema_version": 7, "id": "v7"}): "unsupported_version",
        post(4, platform="Not A Platform!"): "invalid_field",
    }
    good = [post(n, minutes=n) for n in range(10, 16)]
    duplicate = [post(10, minutes=10)]
    messages = [*bad, *good, *duplicate]
    await produce_raw(settings, messages)

    letters = await read_topic(settings, settings.topic_prefix + "posts.dlq", expected=len(bad))
    decoded = [DeadLetter.from_bytes(r.value) for r in letters]
    assert len(decoded) == len(bad)
    assert {bytes(d.raw) if not d.raw_truncated else b"" for d in decoded} - {b""} == {
        raw for raw, reason in bad.items() if reason != "too_large"
    }
    for letter in decoded:
        assert letter.source.topic == settings.topic_prefix + "posts.raw"
        assert letter.detail
        if letter.raw_truncated:
            assert letter.reason == "too_large"
            assert letter.raw_size > settings.max_raw_bytes
        else:
            assert bad[base64.b64decode(letter.raw_base64)] == letter.reason

    await wait_for(
        lambda: metric(worker, "crisiswatch_posts_received_total") == len(messages),
        30.0,
        "every message to be counted",
    )
    figures = worker.metrics()
    processed = figures["crisiswatch_posts_processed_total"]
    dead = figures["crisiswatch_posts_dead_lettered_total"]
    assert processed == len(good) + len(duplicate)
    assert dead == len(bad)
    assert figures['crisiswatch_posts_processed_total{outcome="duplicate",platform="twitter"}'] == 1
    assert processed + dead == figures["crisiswatch_posts_received_total"] == len(messages)
    for reason in set(bad.values()):
        assert figures[f'crisiswatch_posts_dead_lettered_total{{reason="{reason}"}}'] == 1


async def test_worker_restart_keeps_table_state(
    settings: Settings, start_worker: StartWorker
) -> None:
    first = await start_worker(settings)
    await produce_raw(settings, [post(n, minutes=n) for n in range(3)])
    await wait_for(
        lambda: metric(first, "crisiswatch_detector_posts_total") == 3, 60.0, "3 posts detected"
    )
    assert first.stop() == 0

    # Same app id: the new worker rebuilds the subject's window from the table's changelog.
    second = await start_worker(settings)
    await produce_raw(settings, [post(n, minutes=n) for n in range(3, 5)])
    alerts: list[Alert] = []
    await follow_alerts(settings, alerts.append, idle_timeout=60.0, limit=1)
    assert [(a.state, a.volume, a.unique_authors) for a in alerts] == [("opened", 5, 5)]
    # The second worker processed only the 2 new posts: the other 3 came from the changelog.
    assert metric(second, "crisiswatch_detector_posts_total") == 2
