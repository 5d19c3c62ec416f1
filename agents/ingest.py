"""Ingest: posts.raw -> validated posts routed per subject (posts: a batch's posts of a subject per
record, pipeline/ingest/subject_posts.py), bad input -> posts.dlq."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from faust.types import TP

from agents.dead_letters import dead_letter, source_of
from pipeline.ingest import subject_posts
from pipeline.ingest.routing import RecentPosts, Routed, route
from pipeline.ingest.validation import Limits, Rejection
from pipeline.runtime import metrics
from pipeline.runtime.app import app, data_producer, names, posts_raw_topic, settings, watchlist
from pipeline.runtime.batches import take_fetched
from pipeline.runtime.data_producer import Record
from pipeline.runtime.exactly_once import gated

log = logging.getLogger(__name__)

limits = Limits(
    max_raw_bytes=settings.max_raw_bytes,
    max_text_chars=settings.max_text_chars,
    max_subjects_per_post=settings.max_subjects_per_post,
)
recent_posts = RecentPosts(settings.dedup_capacity)
BATCH_SIZE = 2_000


@app.agent(posts_raw_topic)
async def ingest(stream: Any) -> None:
    # Batches: one acknowledged send of all of a batch's records, instead of a round trip each.
    # Exactly-once: a batch is processed whole between two commits (runtime/exactly_once.py).
    batches = take_fetched(stream, BATCH_SIZE, settings.batch_max_wait_seconds)
    async for events in gated(batches, settings.exactly_once):
        started = time.monotonic()
        # By source partition: exactly-once commits them with that partition's offsets.
        records: dict[TP, list[Record]] = {}
        event_times: list[float] = []
        outcomes: Counter[tuple[str, ...]] = Counter()
        # Each subject's posts of the batch, from each source partition: a record per chunk.
        routed: dict[tuple[TP, str], list[bytes]] = {}
        for event in events:
            letter = _ingest_one(event, event_times, outcomes, routed)
            if letter is not None:
                records.setdefault(event.message.tp, []).append(letter)
        for (tp, subject), posts in routed.items():
            key = subject.encode()
            records.setdefault(tp, []).extend(
                (names.posts, key, value) for value in subject_posts.encode(subject, posts)
            )
        await data_producer.send_from(records)
        _count(len(events), outcomes)
        metrics.observe_batch("ingest", time.monotonic() - started, event_times)


def _ingest_one(
    event: Any,
    event_times: list[float],
    outcomes: Counter[tuple[str, ...]],
    routed: dict[tuple[TP, str], list[bytes]],
) -> Record | None:
    """Route one raw message into ``routed``; its dead letter if it is bad input."""
    raw: bytes | None = event.value
    try:
        result = route(raw, limits, watchlist, recent_posts)
    except Exception as exc:  # a bug must not stop the pipeline nor lose the message
        log.exception("ingest failed on %s", source_of(event))
        result = Rejection("processing_error", f"{type(exc).__name__}: {exc}")
    if isinstance(result, Routed):
        event_times.append(result.post.created_at.timestamp())
        if result.subjects:
            post = result.post.to_bytes()  # once, whatever the number of subjects
            for subject in result.subjects:
                routed.setdefault((event.message.tp, subject), []).append(post)
                outcomes["routed", subject] += 1
        outcomes["processed", metrics.platform_label(result.post.platform), result.outcome] += 1
        return None
    outcomes["dead_lettered", result.reason] += 1
    return dead_letter("ingest", raw, result.reason, result.detail, source_of(event), key=event.key)


def _count(received: int, outcomes: Counter[tuple[str, ...]]) -> None:
    """A batch's counts, once its records are acknowledged: a labelled counter's lookup per
    post was a few percent of a worker's time."""
    metrics.POSTS_RECEIVED.inc(received)
    for (kind, *labels), n in outcomes.items():
        if kind == "routed":
            metrics.POSTS_ROUTED.labels(subject=labels[0]).inc(n)
        elif kind == "processed":
            metrics.POSTS_PROCESSED.labels(platform=labels[0], outcome=labels[1]).inc(n)
        else:
            metrics.POSTS_DEAD_LETTERED.labels(reason=labels[0]).inc(n)
