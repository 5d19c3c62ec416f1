"""take_fetched's bounds (pipeline/runtime/batches.py), on a stand-in for a faust stream that
hands queued events to the stream's processors as faust's passive drainer does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from pipeline.runtime.batches import take_fetched


class QueueStream:
    """The parts of faust's Stream that take_fetched uses, over a list of events."""

    def __init__(self, values: list[bytes]) -> None:
        self.pending = [SimpleNamespace(value=v) for v in values]
        self.enable_acks = True
        self.should_stop = False
        self.current_event: Any = None
        self.acked: list[Any] = []
        self.loop = asyncio.get_running_loop()
        self.log = logging.getLogger("test")
        self._processors: list[Callable[[Any], Any]] = []
        self.channel = SimpleNamespace(
            __aiter__=lambda: SimpleNamespace(empty=lambda: not self.pending)
        )

    def add_processor(self, processor: Callable[[Any], Any]) -> None:
        self._processors.append(processor)

    def _enable_passive(self, _channel: Any) -> None:
        self._drainer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while self.pending:
            self.current_event = self.pending.pop(0)
            for processor in self._processors:
                await processor(self.current_event.value)

    async def wait_for_stopped(self, event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def wait(self, event: asyncio.Event) -> None:
        await event.wait()

    async def ack(self, event: Any) -> None:
        self.acked.append(event)

    async def crash(self, exc: BaseException) -> None:
        raise exc


async def batches_of(stream: QueueStream, n: int, **bounds: Any) -> list[list[int]]:
    sizes: list[list[int]] = []
    async for batch in take_fetched(stream, within=0.2, **bounds):
        sizes.append([len(e.value) for e in batch])
        if sum(len(b) for b in sizes) >= n:
            break
    return sizes


async def test_batches_hold_at_most_max_events() -> None:
    stream = QueueStream([b"x"] * 25)
    sizes = await asyncio.wait_for(batches_of(stream, 25, max_=10), 10)
    assert [len(b) for b in sizes] == [10, 10, 5]
    assert len(stream.acked) == 25  # each event acked once its batch was processed


async def test_max_bytes_closes_a_batch_at_the_record_that_reaches_it() -> None:
    values = [b"x" * 400] * 5 + [b"y" * 2_000] + [b"z" * 100] * 3
    stream = QueueStream(values)
    sizes = await asyncio.wait_for(batches_of(stream, len(values), max_=100, max_bytes=1_000), 10)
    # 400 + 400 + 400 >= 1,000: three records; a record alone over the bound is a batch.
    assert sizes == [[400, 400, 400], [400, 400, 2_000], [100, 100, 100]]
