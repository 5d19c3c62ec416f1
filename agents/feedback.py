"""Feedback: labelled posts (ops corrections) teach this worker's online sentiment model.

Every worker keeps its own copy of the model and must learn from *all* feedback, so this is a
task with a group-less consumer over every partition of the feedback topic from its start, not
a group agent (which would give each record to one worker only). A restarted worker relearns
the whole feedback history, so all workers hold the same model. Bad feedback is dead-lettered
(by each worker that reads it: the copies share their source position) and counted.
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError

from agents.sentiment_model import sentiment_model
from pipeline.runtime import metrics
from pipeline.runtime.app import app, data_producer, names, settings
from pipeline.runtime.kafka import ensure_topics, make_consumer
from schemas import DeadLetter, SourcePosition
from schemas.feedback import Feedback

log = logging.getLogger(__name__)


@app.task
async def learn_from_feedback() -> None:
    await ensure_topics(settings, (names.feedback,))
    consumer = make_consumer(
        settings,
        names.feedback,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batches.values():
                for record in records:
                    await _learn(record)
            if not batches:
                await asyncio.sleep(0)
    finally:
        await consumer.stop()


async def _learn(record: object) -> None:
    raw: bytes = record.value or b""  # type: ignore[attr-defined]
    try:
        feedback = Feedback.from_bytes(raw)
    except (ValidationError, ValueError) as exc:
        reason = "not_json" if not isinstance(exc, ValidationError) else "invalid_field"
        letter = DeadLetter.of(
            raw,
            reason,
            f"feedback: {str(exc)[:500]}",
            SourcePosition(
                topic=record.topic,  # type: ignore[attr-defined]
                partition=record.partition,  # type: ignore[attr-defined]
                offset=record.offset,  # type: ignore[attr-defined]
                timestamp_ms=record.timestamp,  # type: ignore[attr-defined]
            ),
            max_raw_bytes=settings.max_raw_bytes,
        )
        await data_producer.send_all([(names.posts_dlq, None, letter.to_bytes())])
        metrics.FEEDBACK.labels(outcome="rejected").inc()
        return
    sentiment_model.learn_one(feedback.text, feedback.label)
    metrics.FEEDBACK.labels(outcome="learned").inc()
    metrics.MODEL_UPDATES.labels(model="sentiment").inc()
