"""aiokafka clients for the tools (produce, alerts, demo, tests), configured from Settings.

The pipeline's own clients are faust's (pipeline/runtime/app.py); these are the outside view: a
producer writing posts and a subscriber reading alerts, as any other Kafka client would.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from pipeline.runtime.security import aiokafka_security
from pipeline.runtime.settings import Settings
from pipeline.runtime.topics import TopicNames


def client_options(settings: Settings) -> dict[str, Any]:
    """Options every aiokafka client gets: the brokers and the SASL/SSL settings."""
    return {"bootstrap_servers": settings.bootstrap_servers(), **aiokafka_security(settings)}


def make_producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    """A producer for the data topics (posts.raw, feedback, replays), batched.

    Tansu's one-record-per-batch workaround (``Settings.producer_options``) is for faust's
    producer, whose changelogs are recovered by their end offsets; nothing reads a data topic's
    end offset to work (see pipeline/runtime/data_producer.py), and one record per request capped
    ``produce``, ``replay`` and the benchmark's input at ~4k posts/s here (batched: ~90k)."""
    return AIOKafkaProducer(
        **client_options(settings), linger_ms=5, max_batch_size=256 * 1024, **options
    )


def make_consumer(settings: Settings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, **client_options(settings), **options)


async def ensure_topics(settings: Settings, names: Iterable[str]) -> None:
    """Create the pipeline's topics with its partition count where they do not exist yet, so
    that a producer that starts before the workers does not get auto-created, 1-partition ones."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        raw = topic_names(settings).posts_raw
        store = topic_names(settings).sentiment_model
        missing = [
            # The model store (pipeline/runtime/model_store.py): one partition, compacted.
            NewTopic(
                name, 1, settings.replication_factor, topic_configs={"cleanup.policy": "compact"}
            )
            if name == store
            else NewTopic(
                name,
                settings.raw_partitions if name == raw else settings.partitions,
                settings.replication_factor,
            )
            for name in names
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


def topic_names(settings: Settings) -> TopicNames:
    return TopicNames.for_prefix(settings.topic_prefix)


async def read_until_idle(
    settings: Settings, topic: str, idle_seconds: float = 2.0
) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of every record of ``topic`` from its start, read until it has been idle
    for ``idle_seconds`` (a bounded loop: a topic that keeps growing is read as of then)."""
    consumer = make_consumer(
        settings, topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[tuple[bytes | None, bytes]] = []
    last = time.monotonic()
    try:
        while time.monotonic() - last < idle_seconds:
            batches = await consumer.getmany(timeout_ms=250)
            for batch in batches.values():
                records.extend((r.key, r.value) for r in batch if r.value is not None)
                last = time.monotonic()
    finally:
        await consumer.stop()
    return records
