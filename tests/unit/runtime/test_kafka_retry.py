"""retry_while_unreachable (pipeline/runtime/kafka.py): a worker's own start-up requests wait for a
broker that is away instead of crashing the worker; any other error still propagates."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, UnknownTopicOrPartitionError

from pipeline.runtime.kafka import retry_while_unreachable


async def test_a_step_is_retried_until_the_broker_answers() -> None:
    failures = [KafkaConnectionError("down"), KafkaTimeoutError()]
    calls: list[int] = []

    async def step(n: int) -> int:
        calls.append(n)
        if failures:
            raise failures.pop(0)
        return n * 2

    assert await retry_while_unreachable("test", step, 21, max_delay=0.01) == 42
    assert calls == [21, 21, 21]


async def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1
        raise UnknownTopicOrPartitionError()

    with pytest.raises(UnknownTopicOrPartitionError):
        await retry_while_unreachable("test", step, max_delay=0.01)
    assert calls == 1
