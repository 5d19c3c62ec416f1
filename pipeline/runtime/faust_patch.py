"""A fix to faust-streaming 0.15.3's per-record path, written as the upstream change would be.

faust's consumer hands every fetched record to the conductor with

    await self.wait_first(callback(message), self.suspend_flow.wait())

so that a rebalance (``suspend_flow`` set) or a stop can interrupt a callback that waits (flow
control suspended, a full stream buffer, the producer's buffer above its high water mark). But
``wait_first`` wraps each of the two awaitables, plus the service's ``stopped`` and ``crashed``
events, in a task of its own and runs ``asyncio.wait`` on the four: per record, whether or not the
callback ever waits. The callback nearly always runs to its end without waiting (it decodes the
record and puts the event in a stream's queue that has room), so that machinery is pure cost:
~150 us of CPU per record here, more than the pipeline's own model code on a busy stream.

The fix runs the callback inline up to its first real wait (``start_inline``): a callback that
finishes without waiting costs one coroutine step. Only a callback that does wait becomes a task,
driven exactly as asyncio's Task would drive it, and is raced with ``suspend_flow`` through
``wait_first`` as before. While the flow is suspended every record takes the old path. So the
flow-control semantics are unchanged: whatever could interrupt a waiting callback still does.

Two more things at the same depth, for latency (issue 17):

- faust builds its worker consumer with ``fetch_max_wait_ms=1500`` hard-coded: a hop whose fetch
  is parked on an empty partition can hold a record that long. ``apply(fetch_max_wait_ms=...)``
  makes it a setting (``Settings.fetch_max_wait_ms``), as an upstream fix would make it an app
  setting.
- The fixed loop says when it is handing a fetch's records over (``fetches``), so that a stage can
  flush its batch when everything fetched so far has reached it (pipeline/runtime/batches.py)
  instead of waiting out a timer.

The loop also keeps, per partition, the highest offset it has handed to the streams
(``delivered_offsets``). faust's own read offsets cannot say that: a rebalance drops them and a
seek sets them to the next offset to read, which was never read. The worker compares them with the
broker's end offsets after a broker restart or a rebalance (pipeline/runtime/app.py): a partition
that now ends at or below a record this worker processed lost it.

``apply()`` installs the fixed ``Consumer._drain_messages`` and the fixed ``perform_seek``
(pipeline/runtime/faust_seek.py); it refuses a faust version they were not written against, so an
upgrade re-reads this rather than patching blind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, cast

import faust
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka

from pipeline.runtime import faust_seek
from pipeline.runtime.patch_guard import require_version

PATCHED_VERSIONS = frozenset({"0.15.3"})
_ORIGINAL_DRAIN = faust_consumer.Consumer._drain_messages
_ORIGINAL_CREATE_WORKER_CONSUMER = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer
#: What faust 0.15.3 passes to aiokafka, whatever the app's settings.
FAUST_FETCH_MAX_WAIT_MS = 1500
DEFAULT_FETCH_MAX_WAIT_MS = 50


class FetchDelivery:
    """Whether the consumer is handing a fetch's records to the streams right now.

    One per process (a worker has one consumer). ``delivering`` is True from a fetch's first
    record to its last; when the last is handed over, every listener is called, so a stage whose
    input ran dry in between can flush (its last record may have been taken while the flag was
    still up)."""

    def __init__(self) -> None:
        self.delivering = False
        self._listeners: list[Callable[[], None]] = []

    def begin(self) -> None:
        self.delivering = True

    def end(self) -> None:
        self.delivering = False
        for listener in list(self._listeners):
            listener()

    def listen(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def unlisten(self, listener: Callable[[], None]) -> None:
        self._listeners.remove(listener)


fetches = FetchDelivery()
_fetch_max_wait_ms = DEFAULT_FETCH_MAX_WAIT_MS


class _Resumed:
    """The rest of a coroutine that already ran up to its first wait, as an awaitable.

    ``start_inline`` took the coroutine's first step itself, so an ``asyncio.Task`` cannot take it
    over (a task starts a coroutine from its beginning). This drives the remaining steps the way
    ``Task.__step`` does: wait for the future the coroutine yielded, then resume the coroutine,
    which reads that future's result or exception itself; a cancellation is passed in to it."""

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, None, Any]:
        coro, waiting_on = self._coro, self._waiting_on
        while True:
            try:
                # A bare ``yield`` (asyncio.sleep(0)) yields None: give the loop one turn.
                yield waiting_on
            except BaseException as exc:  # cancelled while waiting: the coroutine decides
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                waiting_on = coro.send(None)
            except StopIteration as stop:
                return stop.value


def start_inline(coro: Coroutine[Any, Any, Any]) -> Awaitable[Any] | None:
    """Run ``coro`` until it finishes (None) or must wait (an awaitable of the rest).

    Exceptions raised before the first wait propagate here, as awaiting it would raise them."""
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return _Resumed(coro, waiting_on)


async def _finish(rest: Awaitable[Any]) -> Any:
    return await rest


def delivered_offsets(consumer: Any) -> dict[Any, int]:
    """The highest offset of each partition that ``consumer`` has handed to its streams, kept
    across rebalances (faust's read offsets are not: see the module)."""
    return cast(dict[Any, int], consumer.__dict__.setdefault("_crisiswatch_delivered", {}))


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - faust's loop
    # faust 0.15.3's Consumer._drain_messages with three changes, marked FIX below.
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set

    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    set_delivered = delivered_offsets(self).__setitem__  # FIX: what was read, across rebalances
    flag_consumer_fetching = faust_consumer.CONSUMER_FETCHING
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    flow_suspended = self.suspend_flow.is_set

    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep
    begin_fetch, end_fetch = fetches.begin, fetches.end  # FIX: say when a fetch is handed over

    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            ait = getmany(timeout=1.0)

            # Sleeping because sometimes getmany is called in a loop
            # never releasing to the event loop
            await self.sleep(0)
            if not self.should_stop:
                in_fetch = False
                async for tp, message in ait:
                    if not in_fetch:
                        in_fetch = True
                        begin_fetch()
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0

                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        # We have a gap in income messages
                        if gap > 1 and r_offset:
                            acks_enabled = acks_enabled_for(message.topic)
                            if acks_enabled:
                                await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        # FIX: no tasks for a callback that never waits; one that does is
                        # raced with suspend_flow as before.
                        if flow_suspended():
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                        else:
                            rest = start_inline(callback(message))
                            if rest is not None:
                                await self.wait_first(_finish(rest), self.suspend_flow.wait())
                        set_read_offset(tp, offset)
                        set_delivered(tp, offset)
                    else:
                        self.log.dev(
                            "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                            offset,
                            message.key,
                            message.value,
                        )
                if in_fetch:
                    end_fetch()
            unset_flag(flag_consumer_fetching)

    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            # we're already stopping so ignore
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            # we're already stopping so ignore
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        fetches.delivering = False
        unset_flag(flag_consumer_fetching)


def _create_worker_consumer(self: Any, transport: Any) -> Any:
    """faust's worker consumer, with the fetch wait of the settings instead of its 1.5 s."""
    consumer = _ORIGINAL_CREATE_WORKER_CONSUMER(self, transport)
    # aiokafka 0.14 keeps the argument until start() builds its Fetcher from it; faust returns the
    # consumer unstarted. Checked, so that a changed faust or aiokafka fails here, loudly.
    if consumer._fetch_max_wait_ms != FAUST_FETCH_MAX_WAIT_MS or consumer._fetcher is not None:
        raise RuntimeError("faust_patch: faust's consumer is not built as in faust 0.15.3")
    consumer._fetch_max_wait_ms = _fetch_max_wait_ms
    return consumer


def apply(
    fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS,
    end_offsets: faust_seek.EndOffsets = faust_seek.listed_ends,
) -> None:
    """Install the fixes (idempotent); refuse a faust version they were not written against.
    ``end_offsets``: how the seek fix learns where a partition ends (see faust_seek)."""
    global _fetch_max_wait_ms
    require_version(
        "pipeline.runtime.faust_patch",
        faust,
        PATCHED_VERSIONS,
        "check whether the upstream loop changed, then update it",
    )
    _fetch_max_wait_ms = fetch_max_wait_ms
    cast(Any, faust_consumer.Consumer)._drain_messages = _drain_messages
    faust_seek.apply(end_offsets)
    thread = cast(Any, faust_aiokafka.AIOKafkaConsumerThread)
    thread._create_worker_consumer = _create_worker_consumer


def remove() -> None:
    """Put faust's own code back (tests compare both)."""
    cast(Any, faust_consumer.Consumer)._drain_messages = _ORIGINAL_DRAIN
    faust_seek.remove()
    thread = cast(Any, faust_aiokafka.AIOKafkaConsumerThread)
    thread._create_worker_consumer = _ORIGINAL_CREATE_WORKER_CONSUMER
