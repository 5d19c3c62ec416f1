"""The faust per-record fix (pipeline/runtime/faust_patch.py): same outcomes as faust's own loop.

``start_inline`` is checked against plain ``await`` on coroutines that finish at once, wait on a
future, fail before or after a wait, and are cancelled while waiting. The fixed
``_drain_messages`` and faust's original run side by side on a consumer built on mode's real
``Service`` (its ``wait_first``, ``sleep``, stop events): same records in the same order, same read
offsets, and a callback stuck waiting is still interrupted when the flow is suspended.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any, cast

import faust
import mode
import pytest

from pipeline.runtime import faust_patch

DRAINS = {"fixed": faust_patch._drain_messages, "faust": faust_patch._ORIGINAL_DRAIN}


async def ready(value: int) -> int:
    return value * 2


async def waits_on(fut: asyncio.Future[int]) -> int:
    await asyncio.sleep(0)
    return await fut + 1


async def test_a_coroutine_that_never_waits_finishes_inline() -> None:
    assert faust_patch.start_inline(ready(3)) is None


async def test_a_waiting_coroutine_resumes_as_a_task_would() -> None:
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    rest = faust_patch.start_inline(waits_on(fut))
    assert rest is not None
    task = asyncio.ensure_future(faust_patch._finish(rest))
    await asyncio.sleep(0)
    assert not task.done()
    fut.set_result(41)
    assert await task == 42


async def test_errors_propagate_before_and_after_a_wait() -> None:
    async def fails_at_once() -> None:
        raise ValueError("now")

    async def fails_later(fut: asyncio.Future[int]) -> None:
        await fut

    with pytest.raises(ValueError, match="now"):
        faust_patch.start_inline(fails_at_once())
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    rest = faust_patch.start_inline(fails_later(fut))
    assert rest is not None
    fut.set_exception(KeyError("later"))
    with pytest.raises(KeyError, match="later"):
        await faust_patch._finish(rest)


async def test_cancelling_the_rest_cancels_the_wait_and_lets_the_coroutine_clean_up() -> None:
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    cleaned = []

    async def guarded() -> None:
        try:
            await fut
        finally:
            cleaned.append(True)

    rest = faust_patch.start_inline(guarded())
    assert rest is not None
    task = asyncio.ensure_future(faust_patch._finish(rest))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fut.cancelled() and cleaned == [True]


class LoopConsumer(mode.Service):
    """What ``_drain_messages`` uses of faust's Consumer, on mode's real Service (its
    ``wait_first``, ``sleep``, ``diag`` and stop events)."""

    consumer_stopped_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, batches: list[list[tuple[str, int]]], callback: Callable[..., Any]) -> None:
        super().__init__()
        self.batches = batches
        self.callback = callback
        self.suspend_flow = asyncio.Event()
        self._read_offset: defaultdict[str, int | None] = defaultdict(lambda: None)
        self._commit_every = None
        self._n_acked = 0
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True))
        self.transport = SimpleNamespace(app=SimpleNamespace(should_stop=False))
        self.gaps: list[tuple[str, int, int]] = []
        self.races = 0

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:
        self.races += 1
        return await super().wait_first(*coros, timeout=timeout)

    async def _add_gap(self, tp: str, start: int, end: int) -> None:
        self.gaps.append((tp, start, end))

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[str, Any]]:
        if not self.batches:
            self._stopped.set()  # the loop's own stop condition, checked before the next fetch
            return
        for tp, offset in self.batches.pop(0):
            yield tp, SimpleNamespace(offset=offset, topic=tp, key=None, value=None)


async def drain(which: str, consumer: LoopConsumer) -> None:
    fetcher = mode.Service()
    await asyncio.wait_for(DRAINS[which](consumer, fetcher), timeout=5)


@pytest.mark.parametrize("which", sorted(DRAINS))
async def test_records_are_handed_over_in_order_with_offsets_and_gaps(which: str) -> None:
    seen: list[tuple[str, int]] = []

    async def callback(message: Any) -> None:
        seen.append((message.topic, message.offset))
        if message.offset % 3 == 0:
            await asyncio.sleep(0)  # some callbacks wait a turn, most do not

    batches = [[("a", 0), ("a", 1), ("b", 0)], [("a", 2), ("a", 5), ("a", 4), ("b", 1)]]
    consumer = LoopConsumer([list(b) for b in batches], callback)
    await drain(which, consumer)
    # offset 4 arrives after 5 was read: dropped, as faust does
    assert seen == [("a", 0), ("a", 1), ("b", 0), ("a", 2), ("a", 5), ("b", 1)]
    assert dict(consumer._read_offset) == {"a": 5, "b": 1}
    assert consumer.gaps == [("a", 3, 5)]
    # faust races every record with suspend_flow; the fix only those whose callback waited
    assert consumer.races == {"fixed": 2, "faust": 6}[which]


@pytest.mark.parametrize("which", sorted(DRAINS))
async def test_a_stuck_callback_is_interrupted_when_the_flow_is_suspended(which: str) -> None:
    release = asyncio.Event()
    seen: list[int] = []

    async def callback(message: Any) -> None:
        seen.append(message.offset)
        if message.offset == 1:
            await release.wait()  # a full stream buffer, say, during a rebalance

    consumer = LoopConsumer([[("a", 0), ("a", 1), ("a", 2)]], callback)
    task = asyncio.ensure_future(drain(which, consumer))
    for _ in range(20):
        await asyncio.sleep(0)
    assert seen == [0, 1] and not task.done()
    consumer.suspend_flow.set()
    await task
    assert seen == [0, 1, 2]
    assert not release.is_set()


@pytest.mark.parametrize("which", sorted(DRAINS))
async def test_while_suspended_every_record_still_reaches_the_callback(which: str) -> None:
    seen: list[int] = []

    async def callback(message: Any) -> None:
        seen.append(message.offset)

    consumer = LoopConsumer([[("a", n) for n in range(5)]], callback)
    consumer.suspend_flow.set()
    await drain(which, consumer)
    assert seen == [0, 1, 2, 3, 4]


def test_apply_installs_the_fix_and_refuses_an_unknown_faust(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from faust.transport.consumer import Consumer

    faust_patch.apply()
    assert Consumer._drain_messages is faust_patch._drain_messages
    monkeypatch.setattr(faust, "__version__", "9.9.9")
    with pytest.raises(RuntimeError, match=r"9\.9\.9"):
        faust_patch.apply()


async def test_the_fixed_loop_says_while_it_hands_a_fetch_over() -> None:
    during: list[bool] = []
    ends: list[int] = []

    async def callback(message: Any) -> None:
        during.append(faust_patch.fetches.delivering)
        if message.offset == 1:
            await asyncio.sleep(0)  # a callback that waits is still inside its fetch

    def on_end() -> None:
        ends.append(len(during))

    consumer = LoopConsumer([[("a", 0), ("a", 1)], [], [("a", 2)]], callback)
    faust_patch.fetches.listen(on_end)
    try:
        await drain("fixed", consumer)
    finally:
        faust_patch.fetches.unlisten(on_end)
    assert during == [True, True, True]
    # once per fetch that handed records over, after its last one; none for the empty fetch
    assert ends == [2, 3]
    assert not faust_patch.fetches.delivering


async def test_the_worker_consumer_gets_the_configured_fetch_wait() -> None:
    """faust passes aiokafka 1,500 ms whatever it is told; the fix passes the setting."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    from pipeline.runtime.app import create_app
    from pipeline.runtime.settings import Settings

    settings = Settings(broker_url="kafka://127.0.0.1:1", fetch_max_wait_ms=20)
    app = create_app(settings)
    assert AIOKafkaConsumerThread._create_worker_consumer is faust_patch._create_worker_consumer
    thread = cast(Any, app.consumer)._thread
    consumer = thread._create_worker_consumer(app.transport)
    assert consumer._fetch_max_wait_ms == 20
    faust_patch.remove()
    try:
        assert thread._create_worker_consumer(app.transport)._fetch_max_wait_ms == 1500
    finally:
        faust_patch.apply()
