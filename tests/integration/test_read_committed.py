"""A read_committed reader sees a restarted transactional producer's committed records from any
offset (pipeline/runtime/read_committed.py).

A producer dies inside a transaction; a new one with the same transactional id fences it (the
broker aborts the open transaction) and commits two transactions: the restarted worker of
tests/integration/test_exactly_once.py, reduced to one partition. On noida-db 0.2.3 without the
fix, a reader starting anywhere past the abort marker saw none of the new records (the fetch
lists the old aborted transaction, the new producer has the same producer id)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from aiokafka import TopicPartition

from pipeline.runtime.kafka import ensure_topics, make_consumer, make_producer
from pipeline.runtime.settings import Settings

pytestmark = pytest.mark.integration


async def _read_from(settings: Settings, tp: TopicPartition, offset: int) -> list[bytes]:
    consumer = make_consumer(settings, group_id=None, isolation_level="read_committed")
    await consumer.start()
    seen: list[bytes] = []
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        for _ in range(8):  # bounded: a few fetches past the end
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                seen.extend(r.value for r in batch if r.value is not None)
    finally:
        await consumer.stop()
    return seen


async def test_a_fenced_producers_successor_is_read_from_any_offset(settings: Settings) -> None:
    if not settings.broker_has_transactions:
        pytest.skip(f"the {settings.profile} broker profile has no transactions")
    topic = f"{settings.topic_prefix}rc-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic])
    tp = TopicPartition(topic, 0)
    tid = f"rc-{uuid.uuid4().hex[:8]}"
    dead = make_producer(settings, transactional_id=tid)
    await dead.start()
    await dead.begin_transaction()
    for i in range(3):
        await dead.send_and_wait(topic, b"aborted-%d" % i, partition=0)
    # Killed: never commits, never stops. Its successor fences it (the broker aborts).
    successor = make_producer(settings, transactional_id=tid)
    await successor.start()
    committed: list[tuple[int, bytes]] = []
    try:
        for n in (3, 1):
            async with successor.transaction():
                for i in range(n):
                    value = b"committed-%d-%d" % (n, i)
                    sent = await successor.send_and_wait(topic, value, partition=0)
                    committed.append((sent.offset, value))
    finally:
        await successor.stop()
        with contextlib.suppress(Exception):  # fenced: its stop may fail, nothing to check
            await asyncio.wait_for(dead.stop(), 5.0)
    first_new, last = committed[0][0], committed[-1][0]
    # From the start, from the first new record, from the first transaction's marker (just
    # after its last record), from the last record.
    for start in (0, first_new, committed[2][0] + 1, last):
        want = [value for offset, value in committed if offset >= start]
        assert await _read_from(settings, tp, start) == want, f"read_committed from {start}"
