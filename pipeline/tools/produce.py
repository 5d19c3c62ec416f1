"""Sending raw posts into posts.raw, as any producer would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from pipeline.runtime.kafka import ensure_topics, make_producer, topic_names
from pipeline.runtime.settings import Settings

# Futures awaited at a time: bounds memory while keeping the producer's pipeline full.
_IN_FLIGHT = 2_000


async def produce_raw(settings: Settings, messages: Iterable[bytes]) -> int:
    """Send each message (unkeyed) to posts.raw; return how many were acknowledged."""
    return await produce_to(settings, topic_names(settings).posts_raw, messages)


async def produce_to(
    settings: Settings, topic: str, messages: Iterable[bytes], key: bytes | None = None
) -> int:
    """Send each message (with ``key``, or unkeyed) to ``topic``; return how many were
    acknowledged."""
    await ensure_topics(settings, (topic,))
    producer = make_producer(settings)
    await producer.start()
    sent = 0
    pending: list[asyncio.Future[object]] = []
    try:
        for raw in messages:
            pending.append(await producer.send(topic, value=raw, key=key))
            if len(pending) >= _IN_FLIGHT:
                await asyncio.gather(*pending)
                sent += len(pending)
                pending.clear()
        await asyncio.gather(*pending)
        sent += len(pending)
    finally:
        await producer.stop()
    return sent
