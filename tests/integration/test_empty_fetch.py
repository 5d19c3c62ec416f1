"""An idle consumer does not spin on a broker that answers an empty fetch at once
(pipeline/runtime/empty_fetch.py), and still gets a record that arrives while it waits.

noida-db 0.2.3 answers a fetch with nothing in it at once, whatever its max wait: without the
fix an aiokafka consumer of an idle partition sent it thousands of fetches a second (80-87% of
a core). A broker that holds fetches (Kafka, Tansu) answers an idle one about twice a second
with the max wait below, and passes the same way."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import Fetcher

from pipeline.runtime import empty_fetch
from pipeline.runtime.kafka import ensure_topics, make_consumer, make_producer
from pipeline.runtime.settings import Settings

IDLE_SECONDS = 1.0


@pytest.mark.integration
async def test_an_idle_consumer_fetches_at_most_once_a_pause(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = f"{settings.topic_prefix}idle-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic])
    tp = TopicPartition(topic, 0)
    consumer = make_consumer(settings, group_id=None, fetch_max_wait_ms=500)  # applies the fix
    fetches = 0
    fixed = Fetcher._proc_fetch_request

    async def counted(self: Any, *args: Any) -> bool:
        nonlocal fetches
        fetches += 1
        return bool(await fixed(self, *args))

    monkeypatch.setattr(Fetcher, "_proc_fetch_request", counted)
    await consumer.start()
    producer = make_producer(settings, linger_ms=0)
    await producer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_end(tp)
        await consumer.getmany(timeout_ms=100)  # fetching has begun
        before = fetches
        started = time.monotonic()
        assert await consumer.getmany(timeout_ms=int(IDLE_SECONDS * 1000)) == {}
        idle = time.monotonic() - started
        assert fetches - before <= idle / empty_fetch.POLL_SECONDS + 5
        # A record sent while it waits is still read.
        await producer.send_and_wait(topic, b"after the quiet", partition=0)
        got: list[bytes] = []
        for _ in range(20):  # bounded
            for records in (await consumer.getmany(timeout_ms=100)).values():
                got.extend(r.value for r in records if r.value is not None)
            if got:
                break
        assert got == [b"after the quiet"]
    finally:
        await producer.stop()
        await consumer.stop()


def test_the_pause_is_installed_and_idempotent() -> None:
    empty_fetch.apply()
    empty_fetch.apply()
    assert Fetcher._proc_fetch_request is empty_fetch._proc_fetch_request
    assert asyncio.iscoroutinefunction(Fetcher._proc_fetch_request)
