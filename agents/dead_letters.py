"""Dead letters of every stage: what an agent cannot process goes to posts.dlq with the reason.

Ingest dead-letters bad input; the stages after it (signals, detector) dead-letter what they
cannot process (a record that breaks a model, a post whose event time is an outlier), so no
record is ever skipped silently. Each letter names its source topic, partition and offset.
"""

from __future__ import annotations

import logging
from typing import Any

from pipeline.runtime import metrics
from pipeline.runtime.app import names, settings
from pipeline.runtime.data_producer import Record
from schemas import DeadLetter, SourcePosition

log = logging.getLogger(__name__)


def position(topic: str, partition: int, offset: int, timestamp: float | None) -> SourcePosition:
    """Where a record came from; ``timestamp`` in seconds, as faust's messages carry it."""
    return SourcePosition(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=int(timestamp * 1000) if timestamp else None,
    )


def source_of(event: Any) -> SourcePosition:
    message = event.message
    return position(message.topic, message.partition, message.offset, message.timestamp)


def dead_letter(
    stage: str,
    raw: bytes | None,
    reason: str,
    detail: str,
    source: SourcePosition,
    key: bytes | None = None,
) -> Record:
    """The posts.dlq record of one message a stage could not process; counted by stage and
    reason (ingest's also as crisiswatch_posts_dead_lettered_total, its reconciliation)."""
    letter = DeadLetter.of(
        raw or b"", reason, detail, source, key=key, max_raw_bytes=settings.max_raw_bytes
    )
    metrics.DEAD_LETTERED.labels(stage=stage, reason=reason).inc()
    return (names.posts_dlq, key, letter.to_bytes())


def processing_error(stage: str, event: Any, exc: Exception) -> Record:
    """The dead letter of a record a stage failed on (a bug met, logged with its traceback):
    dead-lettered rather than lost, and the stage goes on with the next record."""
    log.exception("%s failed on %s", stage, source_of(event))
    return dead_letter(
        stage,
        event.value,
        "processing_error",
        f"{type(exc).__name__}: {exc}",
        source_of(event),
        key=event.key,
    )
