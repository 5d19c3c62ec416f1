"""The exactly-once fixes to faust 0.15.3 (pipeline/runtime/exactly_once.py), each against faust's
own code where they differ. The whole (a worker SIGKILLed mid-stream on a real broker) is
tests/integration/test_exactly_once.py."""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust import streams
from faust.transport import producer as faust_producer
from faust.types import TP

from pipeline.runtime import exactly_once

POSTS_RAW = TP("posts.raw", 0)
POSTS = TP("posts", 3)


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int | None, str | None]] = []

    async def send(self, topic: str, key: Any, value: Any, partition: Any, *args: Any, **kw: Any):
        self.sent.append((topic, partition, kw["transactional_id"]))


class _Event:  # faust keeps the current event by weak reference
    message = SimpleNamespace(tp=POSTS_RAW)


def _manager() -> Any:
    groups = {"posts.raw": 0, "posts": 1}
    app = SimpleNamespace(
        conf=SimpleNamespace(id="app"),
        assignor=SimpleNamespace(group_for_topic=groups.__getitem__),
    )
    consumer = SimpleNamespace(key_partition=lambda topic, key, partition: 3)
    return SimpleNamespace(app=app, consumer=consumer, producer=_Producer())


async def test_a_record_sent_while_processing_goes_in_its_source_partitions_transaction() -> None:
    manager = _manager()
    event = _Event()
    token = streams._current_event.set(weakref.ref(event))  # type: ignore[arg-type]
    try:
        await exactly_once._send(manager, "posts", b"united", b"{}", None, None, None)
        # faust's own picks the destination's (posts[3]): another partition's transaction.
        await exactly_once._ORIGINAL_SEND(manager, "posts", b"united", b"{}", None, None, None)
    finally:
        streams._current_event.reset(token)
    assert manager.producer.sent == [("posts", 3, "app-0-0"), ("posts", 3, "app-1-3")]


async def test_without_an_event_a_record_goes_in_its_destinations_transaction() -> None:
    manager = _manager()  # faust's producer buffer sending a changelog record
    await exactly_once._send(manager, "posts", b"united", b"{}", None, None, None)
    assert manager.producer.sent == [("posts", 3, "app-1-3")]


def _consumer(acked: list[int]) -> Any:
    consumer = SimpleNamespace(
        in_transaction=True,
        _acked=defaultdict(list, {POSTS: list(acked)}),
        _acked_index=defaultdict(set, {POSTS: set(acked)}),
        _gap=defaultdict(list),
        _committed_offset={POSTS: 5},
    )
    return consumer


def test_the_offset_to_commit_is_past_the_highest_acked_record_holes_or_not() -> None:
    # 7 is a transaction marker (never delivered to a read_committed consumer).
    consumer = _consumer([5, 6, 8, 9])
    assert exactly_once._new_offset(consumer, POSTS) == 10
    assert exactly_once._new_offset(consumer, POSTS) is None  # nothing acked since
    # faust's own stops below the hole it did not see: offset 7, for good.
    assert exactly_once._ORIGINAL_NEW_OFFSET(_consumer([5, 6, 8, 9]), POSTS) == 7


async def test_a_commit_waits_for_the_batch_in_progress_and_holds_the_next() -> None:
    gate = exactly_once.CommitGate()
    order: list[str] = []
    await gate.enter_batch()

    async def commit() -> None:
        async with gate.committing():
            order.append("commit")

    async def next_batch() -> None:
        await gate.enter_batch()
        order.append("next batch")
        gate.leave_batch()

    committing = asyncio.create_task(commit())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(next_batch())
    await asyncio.sleep(0)
    assert order == []  # the commit waits for the batch; the next batch for the commit
    order.append("batch done")
    gate.leave_batch()
    await asyncio.gather(committing, waiting)
    assert order == ["batch done", "commit", "next batch"]


async def test_recovery_ends_are_asked_of_the_broker() -> None:
    class Client:
        def last_stable_offset(self, tp: TP) -> None:
            return None  # not fetched since the assignment

        async def end_offsets(self, tps: list[TP]) -> dict[TP, int]:
            return {tp: 42 for tp in tps}

    thread = SimpleNamespace(
        consumer=SimpleNamespace(in_transaction=True), _ensure_consumer=lambda: Client()
    )
    assert await exactly_once._highwaters(thread, [POSTS]) == {POSTS: 42}
    # faust's own: None, which recovery reads as an empty changelog (highwater -1).
    original: Any = exactly_once._ORIGINAL_HIGHWATERS
    assert await original(thread, [POSTS]) == {POSTS: None}


class _Buffer:
    """faust's ProducerBuffer as flush sees it: a queue, a message in flight, an event."""

    state = "running"

    def __init__(self, queued: int, in_flight: int) -> None:
        self.queued = queued
        self._crisiswatch_in_flight = in_flight
        self.message_sent = asyncio.Event()

    @property
    def size(self) -> int:
        return self.queued

    async def send_one(self) -> None:  # what the buffer's task does, slowly (a busy machine)
        await asyncio.sleep(0.15)
        if self._crisiswatch_in_flight:
            self._crisiswatch_in_flight -= 1
        else:
            self.queued -= 1
        self.message_sent.set()


async def test_a_commit_waits_for_every_buffered_table_write() -> None:
    buffer = _Buffer(queued=1, in_flight=1)

    async def sender() -> None:
        while buffer.size or buffer._crisiswatch_in_flight:
            await buffer.send_one()

    sending = asyncio.create_task(sender())
    await exactly_once.flush_all(buffer)
    assert (buffer.size, buffer._crisiswatch_in_flight) == (0, 0)
    await sending
    # faust's own flush gives up after 0.1 s without a message sent, one still queued.
    buffer = _Buffer(queued=1, in_flight=1)
    sending = asyncio.create_task(sender())
    original: Any = faust_producer.ProducerBuffer.flush_atmost
    await original(buffer, None)
    assert buffer.size == 1
    await sending
