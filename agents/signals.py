"""Signals: subject posts -> sentiment, stories/origin, spread, leaders -> signals topic.

Posts are taken in batches; each subject's models live in memory between batches (ModelCache)
and what changed of their state is written to the table once per batch, one key per component
("<subject>/<part>"), on the partition of the subject's own posts.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import faust
import orjson
from faust.types import TP

from agents.context import event_context
from agents.dead_letters import dead_letter, position, processing_error, source_of
from agents.model_cache import ModelCache
from agents.sentiment_model import ready, sentiment_model
from pipeline.ingest import subject_posts
from pipeline.models.sentiment import SentimentScore
from pipeline.models.signals import SignalsConfig, SubjectSignalsModel
from pipeline.runtime import metrics
from pipeline.runtime.app import app, data_producer, names, posts_topic, settings
from pipeline.runtime.batches import take_fetched
from pipeline.runtime.data_producer import Record
from pipeline.runtime.exactly_once import gated

log = logging.getLogger(__name__)

BATCH_SIZE = 2_000
#: A batch's posts bytes: a record holds a batch's posts of a subject, so records do not say how
#: much a batch is; about the 2,000 posts of one-post records (reports and memory per batch).
BATCH_BYTES = 1024 * 1024

config = SignalsConfig(
    interval_seconds=settings.signals_interval_seconds,
    max_ahead_seconds=settings.signals_max_ahead_seconds,
)
signals_topic = app.topic(names.signals, key_type=bytes, value_type=bytes)
signals_state = app.Table(
    "signals-state",
    default=lambda: None,
    partitions=settings.partitions,
    schema=faust.Schema(key_serializer="json", value_serializer="json"),
)
models: ModelCache[SubjectSignalsModel] = ModelCache(
    lambda subject: SubjectSignalsModel.load(
        subject, config, lambda key: signals_state.get(f"{subject}/{key}")
    )
)


@app.agent(posts_topic)
async def signals(stream: Any) -> None:
    await ready.wait()  # the sentiment model as of start (snapshot or pinned), not the prior
    # Exactly-once: a batch is processed whole between two commits (runtime/exactly_once.py).
    batches = take_fetched(stream, BATCH_SIZE, settings.batch_max_wait_seconds, BATCH_BYTES)
    async for events in gated(batches, settings.exactly_once):
        started = time.monotonic()
        event_times: list[float] = []
        touched: dict[str, Any] = {}
        late_before: dict[str, int] = {}
        held_before: dict[str, int] = {}
        reports = 0
        letters = 0
        taken = 0  # subject posts (a record holds a batch's posts of its subject)
        # By source partition: exactly-once commits them with that partition's offsets.
        records: dict[TP, list[Record]] = {}
        valid: list[tuple[Any, str, dict[str, Any]]] = []
        for event in events:
            try:
                # Checked against the schema first: a record that breaks a model halfway would
                # leave the subject's state broken for every later post.
                decoded = subject_posts.decode(event.value)
            except Exception as exc:  # a bad record must not stop the stage nor be lost
                records.setdefault(event.message.tp, []).append(
                    processing_error("signals", event, exc)
                )
                letters += 1
                taken += 1
                continue
            subject = decoded.subject
            taken += len(decoded.posts) + len(decoded.rejected)
            valid.extend((event, subject, post) for post in decoded.posts)
            for raw, detail in decoded.rejected:  # a bad post of a record: alone
                letters += 1
                records.setdefault(event.message.tp, []).append(
                    _post_error(event, subject, raw, detail)
                )
        scores = _scores([post["text"] for _, _, post in valid])
        for (event, subject, post), score in zip(valid, scores, strict=True):
            try:
                if isinstance(score, Exception):
                    raise score
                model = models.get(subject)
                late_before.setdefault(subject, model.spread.state["late"])
                held_before.setdefault(subject, model.held)
                touched[subject] = event
                out = records.setdefault(event.message.tp, [])
                # Where the post came from, kept with it only if it is held: [topic, partition,
                # offset, timestamp] (a list, not a record: this is per post).
                message = event.message
                source = [message.topic, message.partition, message.offset, message.timestamp]
                for report in model.learn_one(post, score, source):
                    out.append((names.signals, report["subject"].encode(), orjson.dumps(report)))
                    reports += 1
                event_times.append(datetime.fromisoformat(post["created_at"]).timestamp())
                for rejected in model.take_rejected():
                    # A held post of this subject: from this event's partition too.
                    letters += 1
                    out.append(
                        dead_letter(
                            "signals",
                            subject_posts.one_post(subject, rejected.post),
                            rejected.reason,
                            rejected.detail,
                            position(*rejected.source),
                            key=subject.encode(),
                        )
                    )
            except Exception as exc:  # a bug must not stop the stage nor lose the post
                log.exception("signals failed on a post of %s", source_of(event))
                records.setdefault(event.message.tp, []).append(
                    _post_error(
                        event,
                        subject,
                        subject_posts.one_post(subject, post),
                        f"{type(exc).__name__}: {exc}",
                    )
                )
                letters += 1
        metrics.LATE_POSTS.inc(
            sum(models.get(s).spread.state["late"] - n for s, n in late_before.items())
        )
        held = sum(models.get(s).held - n for s, n in held_before.items())
        # Set, not increased by ``held``: a model read back from its table after a restart or a
        # rebalance brings its held posts along, and deciding them must not drive this below 0.
        metrics.SIGNALS_HELD.set(sum(model.held for _, model in models.items()))
        for subject, event in touched.items():
            with event_context(event):
                for key, state in models.get(subject).take_changed_parts().items():
                    if state is not None:
                        signals_state[f"{subject}/{key}"] = state
                    elif f"{subject}/{key}" in signals_state:  # a superseded delta
                        del signals_state[f"{subject}/{key}"]
        await data_producer.send_from(records)
        metrics.observe_batch("signals", time.monotonic() - started, event_times)
        metrics.SIGNALS_POSTS.inc(taken)
        metrics.SIGNALS_EMITTED.inc(reports)
        # Posts taken = learnt + newly held + dead-lettered (a post held earlier counts as
        # learnt or dead-lettered in the batch that decides it).
        learnt = taken - letters - held
        for model_name in ("sentiment_baseline", "stories", "spread", "leaders"):
            metrics.MODEL_UPDATES.labels(model=model_name).inc(learnt)


def _post_error(event: Any, subject: str, raw: bytes, detail: str) -> Record:
    """The dead letter of one post of a record (the record's other posts go on)."""
    return dead_letter(
        "signals", raw, "processing_error", detail, source_of(event), key=subject.encode()
    )


def _scores(texts: list[str]) -> list[SentimentScore | Exception]:
    """One sentiment call for the whole batch (the model is batch-native); should it fail, each
    text alone, so that only the post that breaks it is dead-lettered."""
    try:
        return list(sentiment_model.score_many(texts))
    except Exception:
        log.exception("batch sentiment scoring failed: scoring the batch's posts one by one")
    scores: list[SentimentScore | Exception] = []
    for text in texts:
        try:
            scores.append(sentiment_model.score_one(text))
        except Exception as exc:
            scores.append(exc)
    return scores
