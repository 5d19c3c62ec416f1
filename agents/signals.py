"""Signals: subject posts -> sentiment, stories/origin, spread, leaders -> signals topic.

Posts are taken in batches; each subject's models live in memory between batches (rebuilding a
story index from its state costs milliseconds) and their state is written to the table once per
batch, one key per component ("<subject>/<part>"), on the partition of the subject's own posts.
The cache is dropped at every rebalance, so a subject that moved away and back is reread from
the table, which its other owner kept up to date.
"""

from __future__ import annotations

from typing import Any

import faust
import orjson

from agents.context import event_context
from agents.sentiment_model import sentiment_model
from pipeline import metrics
from pipeline.app import app, names, posts_topic, settings
from pipeline.signals import PARTS, SignalsConfig, SubjectSignalsModel

BATCH_SIZE = 500
BATCH_SECONDS = 0.5

config = SignalsConfig(interval_seconds=settings.signals_interval_seconds)
signals_topic = app.topic(names.signals, key_type=bytes, value_type=bytes)
signals_state = app.Table(
    "signals-state",
    default=lambda: None,
    partitions=settings.partitions,
    schema=faust.Schema(key_serializer="json", value_serializer="json"),
)
_models: dict[str, SubjectSignalsModel] = {}


@app.on_partitions_revoked.connect
def _forget_models(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    _models.clear()


def _model(subject: str) -> SubjectSignalsModel:
    model = _models.get(subject)
    if model is None:
        parts = {part: signals_state.get(f"{subject}/{part}") for part in PARTS}
        model = _models[subject] = SubjectSignalsModel(subject, config, parts)
    return model


@app.agent(posts_topic)
async def signals(stream: Any) -> None:
    async for events in stream.take_events(BATCH_SIZE, within=BATCH_SECONDS):
        touched: dict[str, Any] = {}
        reports = []
        for event in events:
            record = orjson.loads(event.value)
            subject = record["subject"]
            post = record["post"]
            score = sentiment_model.score_one(post["text"])
            reports.extend(_model(subject).learn_one(post, score))
            touched[subject] = event
        for subject, event in touched.items():
            with event_context(event):
                for part, state in _model(subject).state_parts().items():
                    signals_state[f"{subject}/{part}"] = state
        for report in reports:
            await signals_topic.send(key=report.subject.encode(), value=report.to_bytes())
        metrics.SIGNALS_POSTS.inc(len(events))
        metrics.SIGNALS_EMITTED.inc(len(reports))
        for model_name in ("sentiment_baseline", "stories", "spread", "leaders"):
            metrics.MODEL_UPDATES.labels(model=model_name).inc(len(events))
