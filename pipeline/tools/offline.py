"""The whole pipeline in one process, without Kafka: ingest, signals, detector, in order.

The same model code the agents run (route, SubjectSignalsModel with a fresh SentimentModel,
CrisisDetector), fed each raw message in order. Because everything runs on event time, this is
what the broker pipeline must produce for the same input: tests compare the two, and
evaluation uses it as the reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline.ingest.routing import RecentPosts, Routed, route
from pipeline.ingest.validation import Limits
from pipeline.ingest.watchlist import WatchList
from pipeline.models.crisis import CrisisConfig, CrisisDetector
from pipeline.models.sentiment import SentimentModel
from pipeline.models.signals import SignalsConfig, SubjectSignalsModel
from schemas import Alert
from schemas.signals import SubjectSignals

#: Subject posts scored at a time (the signals agent's batch size).
SCORE_BATCH = 2_000


@dataclass
class OfflineRun:
    alerts: list[Alert] = field(default_factory=list)
    reports: int = 0
    processed: int = 0
    dead_lettered: int = 0
    #: Subject posts the signals stage dead-lettered (future_timestamp), as the agent does.
    signals_dead_lettered: int = 0
    #: Every signal report (as on the signals topic), when asked for with keep_reports.
    kept_reports: list[SubjectSignals] = field(default_factory=list)


def run_offline(
    messages: Iterable[bytes],
    watchlist: WatchList,
    *,
    signals_config: SignalsConfig | None = None,
    crisis_config: CrisisConfig | None = None,
    limits: Limits | None = None,
    keep_reports: bool = False,
) -> OfflineRun:
    signals_config = signals_config or SignalsConfig()
    crisis_config = crisis_config or CrisisConfig()
    limits = limits or Limits(max_raw_bytes=65_536, max_text_chars=10_000)
    recent = RecentPosts(200_000)
    scorer = SentimentModel()
    signals: dict[str, SubjectSignalsModel] = {}
    detectors: dict[str, CrisisDetector] = {}
    run = OfflineRun()
    pending: list[tuple[str, dict[str, Any]]] = []  # routed subject posts, in order

    def learn_pending() -> None:
        # Scored a batch at a time, as the signals agent does: the model is batch-native, and a
        # post's score does not depend on the batch it is in.
        scores = scorer.score_many([post["text"] for _, post in pending])
        for (subject, post), score in zip(pending, scores, strict=True):
            model = signals.get(subject) or signals.setdefault(
                subject, SubjectSignalsModel(subject, signals_config)
            )
            reports = model.learn_one(post, score)
            run.signals_dead_lettered += len(model.take_rejected())
            for report in reports:
                run.reports += 1
                wire = orjson.dumps(report)  # what the signals topic carries
                if keep_reports:
                    run.kept_reports.append(SubjectSignals.from_bytes(wire))
                detector = detectors.get(subject) or detectors.setdefault(
                    subject, CrisisDetector(subject, crisis_config)
                )
                run.alerts.extend(detector.learn_one(orjson.loads(wire)))
        pending.clear()

    for raw in messages:
        result = route(raw, limits, watchlist, recent)
        if not isinstance(result, Routed):
            run.dead_lettered += 1
            continue
        run.processed += 1
        for _, value in result.subject_posts():
            record = orjson.loads(value)
            pending.append((record["subject"], record["post"]))
        if len(pending) >= SCORE_BATCH:
            learn_pending()
    learn_pending()
    return run
