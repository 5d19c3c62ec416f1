"""Detector: subject signal reports (signals topic) -> crisis alert events (alerts topic).

Reports are aggregates (one per subject per minute of event time), taken in batches; each
subject's CrisisDetector lives in memory between batches and what changed of its state is
written to the "crisis-state" table once per batch, on the subject's own partition: the
detector's own state at "<subject>", the river anomaly model's structure (once) and masses (when
it learnt) at "<subject>/anomaly-structure" and "<subject>/anomaly-masses".
Alerts are keyed by subject, so one subject's events stay in order.
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
from agents.dead_letters import processing_error
from agents.model_cache import ModelCache
from agents.signals import signals_topic
from pipeline.models.crisis import ANOMALY_PARTS, PHASE_VALUES, CrisisDetector
from pipeline.runtime import metrics
from pipeline.runtime.app import app, data_producer, names, settings
from pipeline.runtime.batches import take_fetched
from pipeline.runtime.data_producer import Record
from pipeline.runtime.exactly_once import gated

log = logging.getLogger(__name__)

BATCH_SIZE = 200

config = settings.crisis_config()
crisis_state = app.Table(
    "crisis-state",
    default=lambda: None,
    partitions=settings.partitions,
    schema=faust.Schema(key_serializer="json", value_serializer="json"),
)
detectors: ModelCache[CrisisDetector] = ModelCache(
    lambda subject: CrisisDetector(
        subject,
        config,
        crisis_state.get(subject),
        {part: crisis_state.get(f"{subject}/{part}") for part in ANOMALY_PARTS},
    )
)


@app.agent(signals_topic)
async def detect(stream: Any) -> None:
    # Exactly-once: a batch is processed whole between two commits (runtime/exactly_once.py).
    batches = take_fetched(stream, BATCH_SIZE, settings.batch_max_wait_seconds)
    async for events in gated(batches, settings.exactly_once):
        started = time.monotonic()
        event_times: list[float] = []
        touched: dict[str, Any] = {}
        alerts = []
        # By source partition: exactly-once commits them with that partition's offsets.
        records: dict[TP, list[Record]] = {}
        for event in events:
            try:
                report = orjson.loads(event.value)
                subject = report["subject"]
                detector = detectors.get(subject)
                touched[subject] = event
                event_time = datetime.fromisoformat(report["as_of"]).timestamp()
                emitted = detector.learn_one(report)
            except Exception as exc:  # a bug must not stop the stage nor lose the report
                records.setdefault(event.message.tp, []).append(
                    processing_error("detector", event, exc)
                )
                continue
            if emitted:
                alerts.extend(emitted)
                records.setdefault(event.message.tp, []).extend(
                    (names.alerts, a.subject.encode(), a.to_bytes()) for a in emitted
                )
            # Past learn_one the report is processed: nothing after it may dead-letter it too.
            event_times.append(event_time)
            _show(subject, report, detector)
        for subject, event in touched.items():
            with event_context(event):
                # Only what changed: the anomaly model's structure once, its masses if it learnt.
                for part, value in detectors.get(subject).take_changes().items():
                    crisis_state[subject if part == "state" else f"{subject}/{part}"] = value
        await data_producer.send_from(records)
        for alert in alerts:
            metrics.ALERTS_EMITTED.labels(state=alert.state).inc()
        metrics.observe_batch("detector", time.monotonic() - started, event_times)
        metrics.DETECTOR_REPORTS.inc(len(events))
        metrics.MODEL_UPDATES.labels(model="crisis_anomaly").inc(len(events))
        _count_open_crises()


def _show(subject: str, report: dict[str, Any], detector: CrisisDetector) -> None:
    """The crisis-room gauges of a subject, from its latest report."""
    spread, sentiment = report["spread"], report["sentiment"]
    metrics.CRISIS_SCORE.labels(subject=subject).set(detector.score)
    metrics.SUBJECT_PHASE.labels(subject=subject).set(PHASE_VALUES[detector.phase])
    metrics.SENTIMENT_CURRENT.labels(subject=subject).set(sentiment["current"])
    metrics.SENTIMENT_BASELINE.labels(subject=subject).set(sentiment["baseline"])
    # Reports of an older schema (a replay of an old signals topic) have no intent shares.
    intent_now = sentiment.get("intent_share_current", 0.0)
    metrics.INTENT_SHARE_CURRENT.labels(subject=subject).set(intent_now)
    intent_usual = sentiment.get("intent_share_baseline", 0.0)
    metrics.INTENT_SHARE_BASELINE.labels(subject=subject).set(intent_usual)
    harm_now, harm_usual = (sentiment.get(f"harm_share_{k}", 0.0) for k in ("current", "baseline"))
    metrics.HARM_SHARE_CURRENT.labels(subject=subject).set(harm_now)
    metrics.HARM_SHARE_BASELINE.labels(subject=subject).set(harm_usual)
    metrics.VOLUME_RATE.labels(subject=subject).set(spread["velocity"])
    metrics.VOLUME_BASELINE.labels(subject=subject).set(spread["baseline_rate"])
    metrics.SUBJECT_PLATFORMS.labels(subject=subject).set(len(spread["platforms"]))
    metrics.SUBJECT_AUDIENCE.labels(subject=subject).set(spread["audience"])
    metrics.CRISIS_PROJECTED_REACH.labels(subject=subject).set(
        detector.projected_reach if detector.phase == "crisis" else 0.0
    )


def _count_open_crises() -> None:
    counts = dict.fromkeys(metrics.SEVERITIES, 0)
    for _, detector in detectors.items():
        if detector.open_severity is not None:
            counts[detector.open_severity] += 1
    for severity, n in counts.items():
        metrics.OPEN_CRISES.labels(severity=severity).set(n)
