"""Detector: subject posts -> alert events (alerts), state per subject in a faust table."""

from __future__ import annotations

from typing import Any

import faust
import orjson

from pipeline import metrics
from pipeline.app import alerts_topic, app, posts_topic, settings
from pipeline.volume import VolumeConfig, VolumeThreshold

config = VolumeConfig(
    window_seconds=settings.volume_window_seconds,
    threshold=settings.volume_threshold,
    allowed_lateness_seconds=settings.allowed_lateness_seconds,
)

# subject -> VolumeThreshold state; posts are keyed by subject, so a subject's state lives on
# the partition its posts arrive on, and is rebuilt from the changelog after a restart.
volume_state = app.Table(
    "volume-state",
    default=dict,
    partitions=settings.partitions,
    schema=faust.Schema(key_serializer="json", value_serializer="json"),
)


@app.agent(posts_topic)
async def detect(stream: Any) -> None:
    async for event in stream.events():
        metrics.DETECTOR_POSTS.inc()
        record = orjson.loads(event.value)
        subject = record["subject"]
        model = VolumeThreshold(subject, config, volume_state[subject])
        late_before = model.state["late"]
        alerts = model.learn_one(record["post"])
        volume_state[subject] = model.state
        if model.state["late"] > late_before:
            metrics.LATE_POSTS.inc()
        for alert in alerts:
            await alerts_topic.send(key=subject.encode(), value=alert.to_bytes())
            metrics.ALERTS_EMITTED.labels(state=alert.state).inc()
