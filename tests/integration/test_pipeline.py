"""Bad input through a real broker: dead-lettered with reasons, and the counts reconcile."""

from __future__ import annotations

import base64

import orjson
import pytest

from pipeline.runtime.settings import Settings
from pipeline.tools.produce import produce_raw
from schemas import DeadLetter

from .conftest import StartWorker
from .helpers import metric, post, read_topic, wait_for

pytestmark = pytest.mark.integration


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
