"""Exactly-once processing on faust-streaming 0.15.3: four fixes, as upstream would write them.

With ``processing_guarantee="exactly_once"`` faust keeps one transactional producer per source
partition (transactional id ``{app id}-{topic group}-{partition}``) and, at each commit, sends a
partition's offsets to that partition's transaction and commits it. What a stage wrote while
processing the partition's records must be in that same transaction. Four things break it:

1. ``TransactionManager.send`` picks the transactional id from the *destination* partition. That
   is only right when source and destination are co-partitioned (a table's changelog); a stage
   that re-keys (ingest: posts.raw -> posts by subject) puts its output into another partition's
   transaction, which commits with other offsets. The fix: a record sent while processing an
   event goes into the transaction of the event's *source* partition; without a current event
   (faust's producer buffer sends changelog records from its own task) the destination
   partition's, as before: a changelog partition is the source partition.

2. faust commits from its own task (every ``broker_commit_interval``) whatever offsets are acked
   by then, and only then sends its buffered table writes. A batch being processed has sent some
   of its records into the transaction but its events are not acked yet: that commit makes the
   records visible without their offsets, and a crash before the next commit processes the batch
   again: every output twice. Or the other way: an acked event's table write still in faust's
   buffer commits in the *next* transaction, so a crash between leaves the offset committed and
   the write lost. The fix: a commit waits for the batches in progress to end (``CommitGate``;
   stages wrap their batches in ``gated``, and take_events acks a batch's events before the stage
   task next yields), holds new batches off meanwhile, and flushes faust's producer buffer into
   the transactions before computing the offsets. Not with ``ProducerBuffer.flush``: it gives
   up when no message went out for 0.1 s (a busy machine), and it does not count the message
   its sending task has taken off the queue and is still handing to the producer; either way a
   table write missed the transaction of its offsets (seen: a resolved alert's intent figures
   off after a restart, 1 run in 4). ``flush_all`` waits for both.

3. faust works out the offset to commit from the acked offsets, bridging the holes it saw
   while reading (``Consumer._add_gap``). A read_committed consumer of a transactional topic
   sees holes everywhere (a marker after each transaction; a killed worker's aborted records),
   and faust misses some of them: the committed offset then stops for good below the first
   one, and every restart processes everything after it again (faust-streaming issue 517,
   "Duplicate messages despite exactly_once configuration": "Has not committed TP at all").
   The fix, in exactly-once mode: the offset after the highest acked record. That is exact
   where each partition's records are acked in the order they are read, which holds for this
   pipeline's agents (one stream per topic, concurrency 1, ``take_events`` batches acked
   whole: ``check_in_order`` refuses an agent with more) and, with the commit gate, no
   record read before it is still being processed.

A partition without a committed offset must start over where the offset reset policy says, not
where recovery left it: pipeline/runtime/faust_seek.py fixes that for both guarantees.

4. In exactly-once mode faust's ``AIOKafkaConsumerThread._highwaters``, the ends that table recovery
   reads changelogs up to, returns ``consumer.last_stable_offset(tp)``: the last stable offset
   from the partition's last *fetch response*, None for a partition not fetched since the
   assignment (every changelog partition when recovery starts: it is paused) and stale for one
   fetched earlier. Recovery takes None as "empty" (highwater -1) and ends at once: a restarted
   worker ran with empty or half-recovered tables (seen: crisis-state highwater -1, signals-state
   6 of hundreds) and raised alerts the clean run never did. The fix asks the broker:
   ListOffsets(latest) of a read_committed consumer *is* the last stable offset
   (``end_offsets``, which aiokafka sends with the consumer's isolation level).

The data topics' records go through ``send_in_transactions`` (pipeline/runtime/data_producer.py
calls it in exactly-once mode): each record with the source partition of the event it came from.
``apply()`` refuses a faust version it was not written against.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import faust
from faust.streams import current_event
from faust.transport import consumer as faust_consumer
from faust.transport import producer as faust_producer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from pipeline.runtime.patch_guard import require_version

PATCHED_VERSIONS = frozenset({"0.15.3"})
T = TypeVar("T")
#: (topic, key, value), as pipeline/runtime/data_producer.py's Record.
Record = tuple[str, bytes | None, bytes]

_ORIGINAL_SEND = faust_consumer.TransactionManager.send
_ORIGINAL_FORCE_COMMIT = faust_consumer.Consumer.force_commit
_ORIGINAL_NEW_OFFSET = faust_consumer.Consumer._new_offset
_ORIGINAL_HIGHWATERS = faust_aiokafka.AIOKafkaConsumerThread._highwaters
_ORIGINAL_SEND_PENDING = faust_producer.ProducerBuffer._send_pending


class CommitGate:
    """Batches in progress against commits: a commit waits until none is in progress and holds
    new ones off until it is done (a commit pending wins, so a busy stream cannot starve it)."""

    def __init__(self) -> None:
        self._in_progress = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._open = asyncio.Event()
        self._open.set()

    @property
    def in_progress(self) -> int:
        return self._in_progress

    async def enter_batch(self) -> None:
        while not self._open.is_set():
            await self._open.wait()
        self._in_progress += 1
        self._idle.clear()

    def leave_batch(self) -> None:
        self._in_progress -= 1
        if self._in_progress == 0:
            self._idle.set()

    @asynccontextmanager
    async def committing(self) -> AsyncIterator[None]:
        self._open.clear()
        try:
            await self._idle.wait()
            yield
        finally:
            self._open.set()


#: One per worker process: faust has one consumer (and so one commit) per process.
GATE = CommitGate()


async def gated(batches: AsyncIterator[T], enabled: bool) -> AsyncIterator[T]:
    """``batches`` (a stage's ``stream.take_events``), each processed inside the commit gate.

    The gate is left when the stage asks for the next batch; take_events then acks the batch's
    events (synchronously) before this task yields, so a commit sees a batch whole or not at all.
    Not enabled (at-least-once): the batches as they come."""
    if not enabled:
        async for batch in batches:
            yield batch
        return
    async for batch in batches:
        await GATE.enter_batch()
        try:
            yield batch
        finally:
            GATE.leave_batch()


def transactional_id_for(app: faust.App, tp: TP) -> str:
    """The transactional id faust commits ``tp``'s offsets with (TransactionManager.commit)."""
    return f"{app.conf.id}-{app.assignor.group_for_topic(tp.topic)}-{tp.partition}"


async def send_in_transactions(app: faust.App, by_source: Mapping[TP, Iterable[Record]]) -> int:
    """Send each record in the transaction of its source partition; wait for all of them."""
    producer: Any = app.producer
    pending = []
    for tp, records in by_source.items():
        tid = transactional_id_for(app, tp)
        for topic, key, value in records:
            pending.append(
                await producer.send(topic, key, value, None, None, None, transactional_id=tid)
            )
    if pending:
        await asyncio.gather(*pending)
    return len(pending)


async def _send(
    self: Any,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    partition: int | None,
    timestamp: float | None,
    headers: Any,
    *,
    transactional_id: str | None = None,
) -> Any:
    # faust 0.15.3's TransactionManager.send, FIX marked.
    tid = None
    p = self.consumer.key_partition(topic, key, partition)
    event = current_event()
    if event is not None:
        # FIX: the transaction of the partition being processed, which commits its offsets.
        tid = transactional_id_for(self.app, event.message.tp)
    elif p is not None:
        group = self.app.assignor.group_for_topic(topic)
        tid = f"{self.app.conf.id}-{group}-{p}"
    return await self.producer.send(topic, key, value, p, timestamp, headers, transactional_id=tid)


async def _send_pending(self: Any, fut: Any) -> None:
    # faust 0.15.3's, counting the message being handed to the producer (see flush_all).
    self._crisiswatch_in_flight = getattr(self, "_crisiswatch_in_flight", 0) + 1
    try:
        await _ORIGINAL_SEND_PENDING(self, fut)
    finally:
        self._crisiswatch_in_flight -= 1


async def flush_all(buffer: Any) -> None:
    """Wait until every message put in faust's producer buffer has been handed to the producer:
    those queued and the one its task is sending, however long that takes."""
    while buffer.size or getattr(buffer, "_crisiswatch_in_flight", 0):
        if buffer.state != "running":
            raise RuntimeError("Cannot flush: Producer not Running")
        buffer.message_sent.clear()
        await buffer.message_sent.wait()  # set by the buffer's task after each message


async def _force_commit(self: Any, topics: Any = None, start_new_transaction: bool = True) -> bool:
    if not self.in_transaction:
        return cast(bool, await _ORIGINAL_FORCE_COMMIT(self, topics, start_new_transaction))
    # FIX: no batch half-processed, and every table write of the acked events in its
    # transaction, before the offsets to commit are read.
    async with GATE.committing():
        await flush_all(self.app.producer.buffer)
        return cast(bool, await _ORIGINAL_FORCE_COMMIT(self, topics, start_new_transaction))


def _new_offset(self: Any, tp: TP) -> int | None:
    if not self.in_transaction:
        return _ORIGINAL_NEW_OFFSET(self, tp)
    # FIX: in-order acks: the offset after the highest acked record, holes or not.
    acked = self._acked[tp]
    if not acked:
        return None
    offset = max(acked) + 1
    acked.clear()
    self._acked_index[tp].clear()
    self._gap[tp].clear()
    return cast(int, offset)


async def _highwaters(self: Any, partitions: list[TP]) -> Mapping[TP, int]:
    # faust 0.15.3: ``{tp: consumer.last_stable_offset(tp)}`` in a transaction, None until fetched.
    # FIX: the broker's answer; for a read_committed consumer that is the last stable offset.
    return cast(Mapping[TP, int], await self._ensure_consumer().end_offsets(partitions))


def check_in_order(app: faust.App) -> None:
    """Refuse an agent that may ack out of order (fix 3 assumes in-order acks)."""
    for name, agent in app.agents.items():
        if agent.concurrency != 1:
            raise RuntimeError(
                f"exactly-once needs in-order acks: agent {name} has concurrency "
                f"{agent.concurrency} (see pipeline/runtime/exactly_once.py)"
            )


def apply() -> None:
    """Install the fixes (idempotent; they act only with processing_guarantee=exactly_once)."""
    require_version(
        "pipeline.runtime.exactly_once",
        faust,
        PATCHED_VERSIONS,
        "check whether upstream changed, then update it",
    )
    cast(Any, faust_consumer.TransactionManager).send = _send
    cast(Any, faust_consumer.Consumer).force_commit = _force_commit
    cast(Any, faust_consumer.Consumer)._new_offset = _new_offset
    cast(Any, faust_aiokafka.AIOKafkaConsumerThread)._highwaters = _highwaters
    cast(Any, faust_producer.ProducerBuffer)._send_pending = _send_pending


def remove() -> None:
    """Put faust's own methods back (tests compare both)."""
    cast(Any, faust_consumer.TransactionManager).send = _ORIGINAL_SEND
    cast(Any, faust_consumer.Consumer).force_commit = _ORIGINAL_FORCE_COMMIT
    cast(Any, faust_consumer.Consumer)._new_offset = _ORIGINAL_NEW_OFFSET
    cast(Any, faust_aiokafka.AIOKafkaConsumerThread)._highwaters = _ORIGINAL_HIGHWATERS
    cast(Any, faust_producer.ProducerBuffer)._send_pending = _ORIGINAL_SEND_PENDING
