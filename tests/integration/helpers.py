"""Helpers for integration tests: posts to send, topics to read back, waiting with bounds."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import TopicPartition

from pipeline.ingest import subject_posts
from pipeline.runtime.kafka import make_consumer, topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess
from schemas import SubjectPost

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


@contextlib.asynccontextmanager
async def _reader(settings: Settings, topic: str) -> AsyncIterator[Any]:
    """A group-less consumer of every partition of ``topic``, from the start."""
    consumer = make_consumer(
        settings, topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def _take(consumer: Any, records: list[Any], timeout_ms: int) -> None:
    for batch in (await consumer.getmany(timeout_ms=timeout_ms)).values():
        records.extend(batch)


async def read_topic(
    settings: Settings, topic: str, expected: int, timeout: float = 60.0
) -> list[Any]:
    """Every record of ``topic`` from the start, once ``expected`` have arrived (or timeout)."""
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    async with _reader(settings, topic) as consumer:
        while len(records) < expected and time.monotonic() < deadline:
            await _take(consumer, records, 250)
        # Anything past the expected count is a failure the caller should see.
        await _take(consumer, records, 500)
    return records


async def read_routed(
    settings: Settings, expected: int, timeout: float = 60.0
) -> list[SubjectPost]:
    """The posts on the posts topic from the start (a record holds a batch's posts of its
    subject), once ``expected`` posts have arrived (or timeout)."""
    records: list[Any] = []
    posts: list[SubjectPost] = []
    deadline = time.monotonic() + timeout
    async with _reader(settings, topic_names(settings).posts) as consumer:
        while len(posts) < expected and time.monotonic() < deadline:
            await _take(consumer, records, 250)
            posts = routed_posts(records)
        await _take(consumer, records, 500)  # anything past the expected count: the caller's
    return routed_posts(records)


def routed_posts(records: list[Any]) -> list[SubjectPost]:
    """Each post of posts-topic records, with its subject, in order."""
    out: list[SubjectPost] = []
    for record in records:
        decoded = subject_posts.decode(record.value)
        out.extend(SubjectPost(subject=decoded.subject, post=p) for p in decoded.posts)
    return out


async def read_to_end(settings: Settings, topic: str, timeout: float = 30.0) -> list[Any]:
    """Every record of ``topic`` up to its end offsets as of the call (a read bounded by a time
    alone returns a prefix on a loaded machine: the records at the end are the ones missed)."""
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    async with _reader(settings, topic) as consumer:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        while time.monotonic() < deadline:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                break
            await _take(consumer, records, 250)
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


__all__ = [
    "T0",
    "TopicPartition",
    "metric",
    "post",
    "read_routed",
    "read_to_end",
    "read_topic",
    "routed_posts",
    "wait_for",
]
