"""aiokafka clients for the tools (produce, alerts, demo, tests), configured from Settings.

The pipeline's own clients are faust's (pipeline/runtime/app.py); these are the outside view: a
producer writing posts and a subscriber reading alerts, as any other Kafka client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
    TopicAlreadyExistsError,
)

from pipeline.runtime import empty_fetch, group_rejoin, read_committed
from pipeline.runtime.security import aiokafka_security
from pipeline.runtime.settings import Settings
from pipeline.runtime.topics import TopicNames

log = logging.getLogger(__name__)
T = TypeVar("T")


def client_options(settings: Settings) -> dict[str, Any]:
    """Options every aiokafka client gets: the brokers and the SASL/SSL settings."""
    return {"bootstrap_servers": settings.bootstrap_servers(), **aiokafka_security(settings)}


def make_producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    """A producer for the data topics (posts.raw, feedback, replays), batched.

    Tansu's one-record-per-batch workaround (``Settings.producer_options``) is for faust's
    producer, whose changelogs are recovered by their end offsets; nothing reads a data topic's
    end offset to work (see pipeline/runtime/data_producer.py), and one record per request capped
    ``produce``, ``replay`` and the benchmark's input at ~4k posts/s here (batched: ~90k).
    ``options`` win over the batching (a latency probe sends with ``linger_ms=0``)."""
    batching: dict[str, Any] = {"linger_ms": 5, "max_batch_size": 256 * 1024}
    return AIOKafkaProducer(**client_options(settings), **(batching | options))


def make_consumer(settings: Settings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    empty_fetch.apply()  # noida-db answers an empty fetch at once (see the module)
    group_rejoin.apply()  # a group member rejoins without leaving a ghost (see the module)
    # Exactly-once mode: a killed worker's unfinished transaction must stay unread.
    options.setdefault("isolation_level", settings.isolation_level())
    if options["isolation_level"] == "read_committed":
        read_committed.apply()  # noida-db's stale aborted-transaction lists (see the module)
    return AIOKafkaConsumer(*topics, **client_options(settings), **options)


class TopicLayoutError(RuntimeError):
    """An existing topic's layout contradicts the settings (one line, for the operator)."""


def expected_partitions(settings: Settings, name: str) -> int:
    names = topic_names(settings)
    if name == names.sentiment_model:
        return 1  # the model store (pipeline/runtime/model_store.py): read whole at start
    return settings.raw_partitions if name == names.posts_raw else settings.partitions


async def ensure_topics(settings: Settings, names: Iterable[str]) -> None:
    """Create the pipeline's topics that do not exist yet, each with its configured partition
    count (a consumer or producer that came first would get the broker's default), table
    changelogs compacted; and verify the ones that exist: a topic whose partition count
    contradicts the settings raises TopicLayoutError (with several partitions, posts.raw
    interleaves the input and event-time order is lost; a changelog with another count than its
    table's source cannot be recovered)."""
    wanted = list(dict.fromkeys(names))
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        store = topic_names(settings).sentiment_model
        missing = [
            NewTopic(
                name,
                expected_partitions(settings, name),
                settings.replication_factor,
                # Table changelogs and the model store keep the last value per key.
                topic_configs={"cleanup.policy": "compact"}
                if name.endswith("-changelog") or name == store
                else {},
            )
            for name in wanted
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        present = [name for name in wanted if name in existing]
        if present:
            for described in await admin.describe_topics(present):
                name, count = described["topic"], len(described["partitions"])
                want = expected_partitions(settings, name)
                if described.get("error_code", 0) == 0 and count != want:
                    if name == store:
                        raise TopicLayoutError(
                            f"topic {name} (the sentiment model store) has {count} partitions, "
                            "not 1: delete it (workers write it anew)"
                        )
                    raw = name == topic_names(settings).posts_raw
                    setting = "RAW_PARTITIONS" if raw else "PARTITIONS"
                    raise TopicLayoutError(
                        f"topic {name} has {count} partitions but CRISISWATCH_{setting} is "
                        f"{want}: delete the topic or set CRISISWATCH_{setting}={count}"
                    )
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


async def fetched_ends(
    settings: Settings, read: dict[TopicPartition, int], timeout: float = 5.0
) -> dict[TopicPartition, int]:
    """Each partition's end offset as a fetch from ``read[tp]`` (a record this reader has
    seen) answers it: the fetch's high watermark. Not ListOffsets: Tansu 0.6.0 answers that
    with the last batch's base offset + 1 (a partition of 500 records in one batch "ends" at 1,
    conformance check "batched produce, then end offsets"), where its fetches carry the right
    high watermark. A record gone from the broker is out of range: the reader then fetches
    from the end (``latest``), whose high watermark is the new end. Partitions that gave no
    answer within ``timeout`` are left out."""
    consumer = make_consumer(
        settings, group_id=None, enable_auto_commit=False, auto_offset_reset="latest"
    )
    try:
        await consumer.start()  # inside: a start that fails still closes what it opened
        consumer.assign(list(read))
        for tp, offset in read.items():
            consumer.seek(tp, offset)
        ends: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + timeout
        while len(ends) < len(read) and time.monotonic() < deadline:
            await consumer.getmany(*(tp for tp in read if tp not in ends), timeout_ms=100)
            for tp in read:
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    ends[tp] = highwater
        return ends
    finally:
        await consumer.stop()


async def committed_ends(
    settings: Settings, committed: Mapping[Any, int]
) -> dict[TopicPartition, int]:
    """``fetched_ends`` for partitions known by their committed offsets (the next record to
    read): the end as a fetch of the last record committed answers it."""
    read = {TopicPartition(tp.topic, tp.partition): n - 1 for tp, n in committed.items()}
    return await fetched_ends(settings, read)


async def retry_while_unreachable(
    what: str, step: Callable[..., Awaitable[T]], *args: Any, max_delay: float = 10.0
) -> T:
    """``step(*args)``, retried while the broker cannot be reached. A worker's own requests at
    start (topics, the model store) must wait for a broker that is away, as its Kafka clients
    do, not crash the worker: the broker-kill test caught the feedback task's first request
    failing just after the kill and taking the worker down with it."""
    delay = min(0.5, max_delay)
    while True:
        try:
            return await step(*args)
        except (
            KafkaConnectionError,
            NodeNotReadyError,
            KafkaTimeoutError,
            RequestTimedOutError,
        ) as exc:
            log.warning("%s: broker not reachable (%r); retrying in %.1f s", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(2 * delay, max_delay)
