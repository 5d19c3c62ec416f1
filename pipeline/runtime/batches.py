"""A stage's batches: what the consumer's fetches handed it, not what a timer collected.

faust's ``Stream.take_events(max_, within)`` yields a batch when it holds ``max_`` events or when
``within`` seconds have passed. A long ``within`` holds a lone post that long at every hop (a
produce-to-alert latency of ~1 s over three hops); a short one cuts batches short under load,
when a batch is what its stage most gains from (table state and sends are per batch).

``take_fetched`` is faust 0.15.3's ``take_events`` with one more reason to flush, marked FIX:
the stream's input queue has run dry and the consumer is not in the middle of handing a fetch
over (``faust_patch.fetches``): everything fetched so far has reached the batch. Flushing at the
first such point alone makes batches as small as the fetches under load (a stage upstream sends
in pieces, each fetched at once), and a batch has a fixed cost (table state and sends), so a
batch that ran dry is not flushed before the previous batch's end plus what it took to process
(times ``LINGER_FACTOR``; ``within`` at most). A post after a quiet spell goes on at once;
a busy stage batches like a timer.
Acks, the ``max_`` bound and the buffer hand-over are faust's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from mode.utils.futures import notify

from pipeline.runtime.faust_patch import fetches

#: A dry batch waits until the previous batch's end plus this many times the time it took
#: (``within`` at most), so a busy stage spends at most about half its time between batches.
#: 1 rather than 4 since table state is written by change (a batch's fixed cost is small): at a
#: quarter of capacity the p50 fell 1.5-2.2x on the dense stream, and the full-load rate and CPU
#: per post were equal in four of five paired runs (README "Latency under load").
LINGER_FACTOR = 1.0


async def take_fetched(
    stream: Any, max_: int, within: float, max_bytes: int | None = None
) -> AsyncGenerator[list[Any], None]:
    """Batches of at most ``max_`` events of ``stream``, and of ``max_bytes`` of values (one
    event more at most) if given: flushed when all that was fetched has arrived, or after
    ``within`` seconds at most (see the module). ``max_bytes`` bounds a batch of records that
    each hold many posts (the posts topic), whose count says little of the work and memory."""
    buffer: list[Any] = []
    buffered_bytes = 0
    buffer_full = asyncio.Event()
    buffer_consumed = asyncio.Event()
    stream_enable_acks: bool = stream.enable_acks
    buffer_consuming: asyncio.Future[Any] | None = None
    channel_it = stream.channel.__aiter__()
    input_empty = channel_it.empty
    loop = asyncio.get_running_loop()
    # A dry batch is not flushed before this: the end of the previous batch plus what it took
    # (times LINGER_FACTOR, ``within`` at most). A post after a quiet spell goes at once; under
    # load a batch gathers about as long as the previous one was processed.
    not_before = 0.0
    timer: asyncio.TimerHandle | None = None

    def flush_if_dry() -> None:
        # FIX: nothing more is on its way before the next fetch: flush what there is, once the
        # batch has been open as long as the previous one took.
        nonlocal timer
        if buffer and input_empty() and not fetches.delivering and not buffer_full.is_set():
            wait = not_before - loop.time()
            if wait <= 0:
                buffer_full.set()
            elif timer is None:
                timer = loop.call_later(wait, lingered)

    def lingered() -> None:
        nonlocal timer
        timer = None
        flush_if_dry()

    async def add_to_buffer(value: Any) -> Any:
        try:
            nonlocal buffer_consuming, buffered_bytes
            if buffer_consuming is not None:
                try:
                    await buffer_consuming
                finally:
                    buffer_consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("Take buffer found current_event is None")
            buffer.append(event)
            if max_bytes is not None:
                buffered_bytes += len(event.value or b"")
            if len(buffer) >= max_ or (max_bytes is not None and buffered_bytes >= max_bytes):
                buffer_full.set()
                # strict: a batch never holds more than max_ events (nor max_bytes and one more)
                buffer_consumed.clear()
                await stream.wait(buffer_consumed)
            else:
                flush_if_dry()
        except asyncio.CancelledError:  # pragma: no cover
            raise
        except Exception as exc:
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    # Acks are this function's: an event is acked once its batch has been processed.
    stream.enable_acks = False
    stream.add_processor(add_to_buffer)
    fetches.listen(flush_if_dry)
    stream._enable_passive(channel_it)
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(buffer_full, timeout=within)
            if buffer:
                # the passive drainer must not add to the buffer while the batch is read
                buffer_consuming = stream.loop.create_future()
                started = loop.time()
                try:
                    yield list(buffer)
                finally:
                    ended = loop.time()
                    not_before = ended + min(within, LINGER_FACTOR * (ended - started))
                    events = list(buffer)
                    buffer.clear()
                    buffered_bytes = 0
                    for event in events:
                        await stream.ack(event)
                    notify(buffer_consuming)
                    buffer_full.clear()
                    buffer_consumed.set()
    finally:
        if timer is not None:
            timer.cancel()
        fetches.unlisten(flush_if_dry)
        stream.enable_acks = stream_enable_acks
        stream._processors.remove(add_to_buffer)
