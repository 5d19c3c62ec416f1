"""Feedback: labelled posts (ops corrections) teach this worker's sentiment model.

The model is the shipped prior plus what feedback taught it. At start the worker loads the
latest snapshot of that model from the ``sentiment.model`` topic (constant work, whatever the
length of the feedback history; pipeline/runtime/model_store.py) and learns only the feedback
after the offsets the snapshot covers. Every worker keeps its own copy and must learn from
*all* feedback, so this is a task with a group-less consumer over every partition of the
feedback topic, not a group agent (which would give each record to one worker only). While it
learns, it writes a snapshot at most every ``Settings.sentiment_snapshot_seconds``; any
worker's snapshot is a consistent (model, offsets) pair, so it does not matter whose is latest.

``Settings.sentiment_model_version`` pins the model instead: "shipped" (the shipped weights) or
a snapshot version, frozen (no learning), so a replay stays deterministic. Bad feedback is
dead-lettered (by each worker that reads it: the copies share their source position) and
counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from aiokafka import TopicPartition
from pydantic import ValidationError

from agents.dead_letters import dead_letter
from agents.sentiment_model import ready, sentiment_model
from pipeline.runtime import metrics
from pipeline.runtime.app import app, data_producer, names, settings
from pipeline.runtime.kafka import ensure_topics, make_consumer, retry_while_unreachable
from pipeline.runtime.model_store import assemble, read_store, snapshot_records
from schemas import SourcePosition
from schemas.feedback import Feedback

log = logging.getLogger(__name__)

SHIPPED = "shipped"


async def _restore(store: str, pinned: str) -> dict[int, int]:
    """Load the latest (or the pinned) snapshot; the feedback offsets it covers."""
    found = assemble(await read_store(settings, store), pinned)
    if found is None:
        if pinned:
            raise RuntimeError(f"sentiment model version {pinned!r} is not in topic {store}")
        log.info("sentiment model: shipped weights (%s), no snapshot yet", sentiment_model.version)
        return {}
    version, snapshot = found
    offsets = orjson.loads(sentiment_model.restore(snapshot) or "{}")
    log.info("sentiment model: snapshot %s loaded (%d bytes)", version, len(snapshot))
    return {int(partition): int(offset) for partition, offset in offsets.items()}


@app.task
async def learn_from_feedback() -> None:
    pinned = settings.sentiment_model_version
    store = settings.sentiment_model_topic or names.sentiment_model
    try:
        if pinned == SHIPPED:
            log.info("sentiment model pinned: shipped weights (%s)", sentiment_model.version)
            return
        offsets = await retry_while_unreachable("sentiment model", _start, store, pinned)
        if pinned:
            return
    finally:
        metrics.SENTIMENT_CORRECTIONS.set(sentiment_model.n_learned)
        ready.set()
    consumer = await retry_while_unreachable("feedback topic", _feedback_consumer, offsets)
    try:
        await _learn_forever(consumer, offsets, store)
    finally:
        await consumer.stop()


async def _start(store: str, pinned: str) -> dict[int, int]:
    if store == names.sentiment_model:
        await ensure_topics(settings, (store,))  # one partition, compacted
    return await _restore(store, pinned)


async def _feedback_consumer(offsets: dict[int, int]) -> Any:
    """A group-less consumer of every feedback partition, each from the snapshot's offset."""
    await ensure_topics(settings, (names.feedback,))
    consumer = make_consumer(settings, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # metadata of every topic, so the partitions are known
        partitions = [
            TopicPartition(names.feedback, p)
            for p in sorted(consumer.partitions_for_topic(names.feedback) or ())
        ]
        consumer.assign(partitions)
        for partition in partitions:
            if partition.partition in offsets:
                consumer.seek(partition, offsets[partition.partition])
            else:
                await consumer.seek_to_beginning(partition)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def _learn_forever(consumer: object, offsets: dict[int, int], store: str) -> None:
    snapshot_at = time.monotonic()
    pending = False
    while True:
        batches = await consumer.getmany(  # type: ignore[attr-defined]
            timeout_ms=500, max_records=500
        )
        for records in batches.values():
            for record in records:
                await _learn(record)
                offsets[record.partition] = record.offset + 1
                pending = True
        if pending and time.monotonic() - snapshot_at >= settings.sentiment_snapshot_seconds:
            snapshot_at = time.monotonic()
            try:
                await _write_snapshot(offsets, store)
                pending = False
            except Exception:  # the broker away, say: the model keeps learning, retried later
                log.exception("sentiment model snapshot not written; retrying next period")
        if not batches:
            await asyncio.sleep(0)


async def _write_snapshot(offsets: dict[int, int], store: str) -> None:
    snapshot = sentiment_model.snapshot(
        orjson.dumps({str(p): o for p, o in offsets.items()}).decode()
    )
    records = snapshot_records(sentiment_model.version, snapshot)
    await data_producer.send_all((store, key, value) for key, value in records)
    metrics.MODEL_SNAPSHOTS.labels(model="sentiment").inc()
    log.info(
        "sentiment model: snapshot %s written (%d bytes)", sentiment_model.version, len(snapshot)
    )


async def _learn(record: object) -> None:
    raw: bytes = record.value or b""  # type: ignore[attr-defined]
    source = SourcePosition(
        topic=record.topic,  # type: ignore[attr-defined]
        partition=record.partition,  # type: ignore[attr-defined]
        offset=record.offset,  # type: ignore[attr-defined]
        timestamp_ms=record.timestamp,  # type: ignore[attr-defined]
    )
    try:
        feedback = Feedback.from_bytes(raw)
    except (ValidationError, ValueError) as exc:
        reason = "not_json" if not isinstance(exc, ValidationError) else "invalid_field"
        letter = dead_letter("feedback", raw, reason, f"feedback: {str(exc)[:500]}", source)
        await data_producer.send_all([letter])
        metrics.FEEDBACK.labels(outcome="rejected").inc()
        return
    try:
        sentiment_model.learn_one(feedback.text, feedback.label)
    except Exception as exc:  # a bug must not stop the worker nor lose the label
        log.exception("feedback failed on %s", source)
        detail = f"{type(exc).__name__}: {exc}"
        await data_producer.send_all(
            [dead_letter("feedback", raw, "processing_error", detail, source)]
        )
        metrics.FEEDBACK.labels(outcome="rejected").inc()
        return
    metrics.SENTIMENT_CORRECTIONS.set(sentiment_model.n_learned)
    metrics.FEEDBACK.labels(outcome="learned").inc()
    metrics.MODEL_UPDATES.labels(model="sentiment").inc()
