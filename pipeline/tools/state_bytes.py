"""Table state bytes per post by batch size, on the models alone: whole parts vs changes.

``crisiswatch bench`` reads what the changelogs carry at full load, where a batch holds hundreds
of a subject's posts. A worker at moderate load takes smaller batches, and what it writes per
post depends on that. This runs the bench's posts through the same models as the agents
(routing, signals, detector; pipeline/tools/offline.py), in batches of N subject posts, and
after each batch counts, for every subject the batch touched, the table bytes (keys and values,
JSON as faust writes them) of

- *whole*: every part whole (what the agents wrote before: ``state_parts``, and the detector's
  state with its anomaly model pickled inside);
- *changes*: what the agents write now (``take_changed_parts``, ``take_changes``).

    .venv/bin/python -m pipeline.tools.state_bytes --posts 6000 --batches 20,300,2000
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.ingest.routing import RecentPosts, Routed, route
from pipeline.ingest.validation import Limits
from pipeline.ingest.watchlist import WatchList
from pipeline.models.crisis import CrisisConfig, CrisisDetector
from pipeline.models.sentiment import SentimentModel
from pipeline.models.signals import SignalsConfig, SubjectSignalsModel


def _size(key: str, value: Any) -> int:
    # faust's json serializer: orjson, compact.
    return len(orjson.dumps(key)) + len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


@dataclass
class StateBytes:
    posts: int = 0
    signals_whole: int = 0
    signals_changes: int = 0
    crisis_whole: int = 0
    crisis_changes: int = 0

    def per_post(self) -> dict[str, float]:
        n = max(self.posts, 1)
        return {
            "whole": (self.signals_whole + self.crisis_whole) / n,
            "changes": (self.signals_changes + self.crisis_changes) / n,
            "signals_whole": self.signals_whole / n,
            "signals_changes": self.signals_changes / n,
            "crisis_whole": self.crisis_whole / n,
            "crisis_changes": self.crisis_changes / n,
        }


def state_bytes(messages: list[bytes], watchlist: WatchList, batch: int) -> StateBytes:
    limits = Limits(max_raw_bytes=65_536, max_text_chars=10_000)
    recent = RecentPosts(200_000)
    scorer = SentimentModel()
    signals: dict[str, SubjectSignalsModel] = {}
    detectors: dict[str, CrisisDetector] = {}
    out = StateBytes()
    pending: list[tuple[str, dict[str, Any]]] = []

    def flush() -> None:
        scores = scorer.score_many([post["text"] for _, post in pending])
        touched, reported = set(), set()
        for (subject, post), score in zip(pending, scores, strict=True):
            model = signals.get(subject) or signals.setdefault(
                subject, SubjectSignalsModel(subject, SignalsConfig())
            )
            for report in model.learn_one(post, score):
                detector = detectors.get(subject) or detectors.setdefault(
                    subject, CrisisDetector(subject, CrisisConfig())
                )
                detector.learn_one(orjson.loads(orjson.dumps(report)))
                reported.add(subject)
            model.take_rejected()
            touched.add(subject)
        pending.clear()
        for subject in touched:
            model = signals[subject]
            for part, value in model.state_parts().items():
                out.signals_whole += _size(f"{subject}/{part}", value)
            for key, change in model.take_changed_parts().items():
                table_key = f"{subject}/{key}"
                # A deletion is a tombstone: its key and no value.
                deleted = change is None
                out.signals_changes += (
                    len(orjson.dumps(table_key)) if deleted else _size(table_key, change)
                )
        for subject in reported:
            detector = detectors[subject]
            for key, value in detector.take_changes().items():
                out.crisis_changes += _size(
                    subject if key == "state" else f"{subject}/{key}", value
                )
            out.crisis_whole += _size(subject, detector.state)

    for raw in messages:
        result = route(raw, limits, watchlist, recent)
        if not isinstance(result, Routed):
            continue
        out.posts += 1
        for _, value in result.subject_posts():
            record = orjson.loads(value)
            pending.append((record["subject"], record["post"]))
        if len(pending) >= batch:
            flush()
    flush()
    return out


def main() -> None:
    from pipeline.runtime.settings import Settings
    from pipeline.tools.bench_posts import bench_posts

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=6_000)
    parser.add_argument("--density", default="1,100", help="posts per subject-minute")
    parser.add_argument("--batches", default="20,300,2000", help="subject posts per batch")
    args = parser.parse_args()
    watchlist = WatchList.load(Settings.from_env().watchlist_file())
    print("| posts / subject-minute | batch | whole: B/post (signals, crisis) | changes | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for density in (float(d) for d in args.density.split(",")):
        messages = bench_posts(args.posts, per_subject_minute=density)
        for batch in (int(b) for b in args.batches.split(",")):
            r = state_bytes(messages, watchlist, batch).per_post()
            print(
                f"| {density:g} | {batch:,} | {r['whole']:,.0f} ({r['signals_whole']:,.0f}, "
                f"{r['crisis_whole']:,.0f}) | {r['changes']:,.0f} ({r['signals_changes']:,.0f}, "
                f"{r['crisis_changes']:,.0f}) | {r['whole'] / r['changes']:.1f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
