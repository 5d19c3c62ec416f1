"""Helpers for integration tests: posts to send, topics to read back, waiting with bounds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import TopicPartition

from pipeline.runtime.kafka import make_consumer
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess

T0 = datetime(2015, 2, 20, 10, 0, tzinfo=UTC)


def post(n: int, text: str = "@united my bag is lost", minutes: float = 0.0, **extra: Any) -> bytes:
    body = {
        "id": f"p{n}",
        "platform": "twitter",
        "author": {"id": f"u{n}", "handle": f"user{n}", "followers": 10 * n},
        "text": text,
        "created_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        **extra,
    }
    return orjson.dumps(body)


async def read_topic(
    settings: Settings, topic: str, expected: int, timeout: float = 60.0
) -> list[Any]:
    """Every record of ``topic`` from the start, once ``expected`` have arrived (or timeout)."""
    consumer = make_consumer(
        settings, topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=250)
            for batch in batches.values():
                records.extend(batch)
        # Anything past the expected count is a failure the caller should see.
        batches = await consumer.getmany(timeout_ms=500)
        for batch in batches.values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def read_to_end(settings: Settings, topic: str, timeout: float = 30.0) -> list[Any]:
    """Every record of ``topic`` up to its end offsets as of the call (a read bounded by a time
    alone returns a prefix on a loaded machine: the records at the end are the ones missed)."""
    consumer = make_consumer(
        settings, topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        while time.monotonic() < deadline:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                break
            batches = await consumer.getmany(timeout_ms=250)
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def wait_for(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.25
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


def metric(worker: WorkerProcess, name: str) -> float:
    return worker.metrics().get(name, 0.0)


__all__ = ["T0", "TopicPartition", "metric", "post", "read_to_end", "read_topic", "wait_for"]
