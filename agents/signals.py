"""Signals: subject posts -> sentiment, stories/origin, spread, leaders -> signals topic.

Posts are taken in batches; each subject's models live in memory between batches (ModelCache)
and their state is written to the table once per batch, one key per component
("<subject>/<part>"), on the partition of the subject's own posts.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import faust
import orjson

from agents.context import event_context
from agents.model_cache import ModelCache
from agents.sentiment_model import ready, sentiment_model
from pipeline.models.signals import PARTS, SignalsConfig, SubjectSignalsModel
from pipeline.runtime import metrics
from pipeline.runtime.app import app, data_producer, names, posts_topic, settings

BATCH_SIZE = 2_000
BATCH_SECONDS = 0.5

config = SignalsConfig(interval_seconds=settings.signals_interval_seconds)
signals_topic = app.topic(names.signals, key_type=bytes, value_type=bytes)
signals_state = app.Table(
    "signals-state",
    default=lambda: None,
    partitions=settings.partitions,
    schema=faust.Schema(key_serializer="json", value_serializer="json"),
)
models: ModelCache[SubjectSignalsModel] = ModelCache(
    lambda subject: SubjectSignalsModel(
        subject, config, {part: signals_state.get(f"{subject}/{part}") for part in PARTS}
    )
)


@app.agent(posts_topic)
async def signals(stream: Any) -> None:
    await ready.wait()  # the sentiment model as of start (snapshot or pinned), not the prior
    async for events in stream.take_events(BATCH_SIZE, within=BATCH_SECONDS):
        started = time.monotonic()
        event_times: list[float] = []
        touched: dict[str, Any] = {}
        late_before: dict[str, int] = {}
        reports = []
        records = [orjson.loads(event.value) for event in events]
        # One sentiment call for the whole batch: the model is batch-native.
        scores = sentiment_model.score_many([record["post"]["text"] for record in records])
        for event, record, score in zip(events, records, scores, strict=True):
            subject = record["subject"]
            post = record["post"]
            model = models.get(subject)
            late_before.setdefault(subject, model.spread.state["late"])
            reports.extend(model.learn_one(post, score))
            event_times.append(datetime.fromisoformat(post["created_at"]).timestamp())
            touched[subject] = event
        metrics.LATE_POSTS.inc(
            sum(models.get(s).spread.state["late"] - n for s, n in late_before.items())
        )
        for subject, event in touched.items():
            with event_context(event):
                for part, state in models.get(subject).state_parts().items():
                    signals_state[f"{subject}/{part}"] = state
        await data_producer.send_all(
            (names.signals, report["subject"].encode(), orjson.dumps(report)) for report in reports
        )
        metrics.observe_batch("signals", time.monotonic() - started, event_times)
        metrics.SIGNALS_POSTS.inc(len(events))
        metrics.SIGNALS_EMITTED.inc(len(reports))
        for model_name in ("sentiment_baseline", "stories", "spread", "leaders"):
            metrics.MODEL_UPDATES.labels(model=model_name).inc(len(events))
