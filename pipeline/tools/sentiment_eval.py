"""Honest measurement of the sentiment scorers (``crisiswatch sentiment-eval``).

Three scorers: VADER alone (the lexicon), the shipped model (pipeline/data/sentiment_model.npz,
frozen), and the shipped model with online learning from labelled posts on top.

- Airline tweets (2015, 14,640, in the package; never used to train or tune the shipped
  model): prequential, replayed in event-time order (tweet_created, then tweet_id); the online
  model predicts each tweet, then learns it, as ops corrections would reach a running model, so
  no tweet is scored by a model that has seen its label.
- SemEval ``twitter-2016test-A`` (20,557 tweets, ``--semeval PATH`` to the TSV of
  ``../shared/data/sentiment/``; not shipped): held out from training and tuning
  (pipeline/tools/sentiment_train.py). "after online learning" there is the model that has
  learned every airline tweet: what ops corrections in one domain do to tweets in general.

Figures: macro-averaged recall (the SemEval measure), accuracy and macro-F1, and the shipped
model's scoring cost per post in batches of 2,000 (CPU time and wall clock, min and median of
several passes: the machine may be shared). Also
the line-by-line labeller behind ``crisiswatch sentiment``.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline.models.sentiment import LABELS, LexiconSentiment, SentimentModel

CREATED_FORMAT = "%m/%d/%Y %H:%M"
HELD_OUT_SPLIT = "twitter-2016test-A"
BATCH = 2_000
#: Timed passes of the shipped model over the held-out split (after one that warms up).
COST_PASSES = 5
SCORERS = ("lexicon", "shipped", "online")
TITLES = {
    "lexicon": "lexicon (VADER)",
    "shipped": "shipped model",
    "online": "shipped + online",
}


@dataclass(frozen=True, slots=True)
class LabelledPost:
    tweet_id: int
    created: datetime
    text: str
    label: str


class Labeller(Protocol):
    def predict_one(self, text: str) -> str: ...


def read_labelled(path: Path, limit: int | None = None) -> list[LabelledPost]:
    """The labelled tweets in event-time order; with ``limit``, the first ``limit`` of them."""
    # The csv module, not line splitting: some tweets span several lines.
    with path.open(newline="", encoding="utf-8") as f:
        posts = [
            LabelledPost(
                tweet_id=int(row["tweet_id"]),
                created=datetime.strptime(row["tweet_created"], CREATED_FORMAT),
                text=row["text"],
                label=row["airline_sentiment"],
            )
            for row in csv.DictReader(f)
        ]
    posts.sort(key=lambda p: (p.created, p.tweet_id))
    return posts[:limit] if limit is not None else posts


def read_held_out(path: Path) -> tuple[list[str], list[str]]:
    """Texts and labels of the held-out SemEval split."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)][1:]
    held = [r for r in rows if len(r) == 3 and r[0] == HELD_OUT_SPLIT and r[1] in LABELS]
    return [r[2] for r in held], [r[1] for r in held]


def train(path: Path, limit: int | None = None) -> SentimentModel:
    """The shipped model after learning the labelled tweets (e.g. to seed the CLI labeller)."""
    model = SentimentModel()
    posts = read_labelled(path, limit)
    model.learn_many([p.text for p in posts], [p.label for p in posts])
    return model


def figures(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """Macro-averaged recall, accuracy and macro-F1 over the three labels."""
    t = np.array([LABELS.index(x) for x in truth])
    p = np.array([LABELS.index(x) for x in predicted])
    recalls, f1s = [], []
    for k in range(len(LABELS)):
        hits = float(np.sum((t == k) & (p == k)))
        actual, said = float(np.sum(t == k)), float(np.sum(p == k))
        recall = hits / actual if actual else 0.0
        precision = hits / said if said else 0.0
        recalls.append(recall)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return {
        "macro_recall": float(np.mean(recalls)),
        "accuracy": float(np.mean(t == p)) if len(t) else 0.0,
        "macro_f1": float(np.mean(f1s)),
    }


def _batched_labels(model: SentimentModel | LexiconSentiment, texts: Sequence[str]) -> list[str]:
    return [
        s.label for i in range(0, len(texts), BATCH) for s in model.score_many(texts[i : i + BATCH])
    ]


def evaluate(
    airline: Path, semeval: Path | None = None, limit: int | None = None
) -> dict[str, Any]:
    posts = read_labelled(airline, limit)
    texts, truth = [p.text for p in posts], [p.label for p in posts]
    lexicon, shipped, online = LexiconSentiment(), SentimentModel(), SentimentModel()
    predicted: dict[str, list[str]] = {
        "lexicon": _batched_labels(lexicon, texts),
        "shipped": _batched_labels(shipped, texts),
        "online": [],
    }
    for text, label in zip(texts, truth, strict=True):
        predicted["online"].append(online.predict_one(text))
        online.learn_one(text, label)
    counts = Counter(truth)
    report: dict[str, Any] = {
        "airline": {
            "n": len(posts),
            "label_share": {k: counts[k] / len(posts) if posts else 0.0 for k in LABELS},
            **{name: figures(truth, predicted[name]) for name in SCORERS},
        },
        "model_version": shipped.version,
    }
    if semeval is not None:
        held_texts, held_truth = read_held_out(semeval)
        shipped_labels = _batched_labels(shipped, held_texts)  # also warms the caches
        cpu, wall = [], []
        for _ in range(COST_PASSES):
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            _batched_labels(shipped, held_texts)
            cpu.append(time.process_time() - cpu_started)
            wall.append(time.perf_counter() - wall_started)
        per_post = 1e6 / max(len(held_texts), 1)
        report["held_out"] = {
            "split": HELD_OUT_SPLIT,
            "n": len(held_texts),
            "lexicon": figures(held_truth, _batched_labels(lexicon, held_texts)),
            "shipped": figures(held_truth, shipped_labels),
            "online": figures(held_truth, _batched_labels(online, held_texts)),
            # Per post, over COST_PASSES passes: the machine may be shared, so min and median.
            "shipped_us_per_post": float(np.median(wall)) * per_post,
            "shipped_cpu_us_per_post": {
                "min": min(cpu) * per_post,
                "median": float(np.median(cpu)) * per_post,
            },
            "shipped_wall_us_per_post": {
                "min": min(wall) * per_post,
                "median": float(np.median(wall)) * per_post,
            },
        }
    return report


def format_report(report: dict[str, Any]) -> str:
    sets = [("airline", f"airline tweets, prequential ({report['airline']['n']:,})")]
    if "held_out" in report:
        held = report["held_out"]
        sets.append(("held_out", f"{held['split']}, held out ({held['n']:,})"))
    lines = [f"Sentiment (model {report['model_version']})", ""]
    header = f"{'scorer':20}{'macro-recall':>14}{'accuracy':>10}{'macro-F1':>10}"
    for key, title in sets:
        lines += [title, header]
        for name in SCORERS:
            row = report[key][name]
            lines.append(
                f"{TITLES[name]:20}{row['macro_recall']:>14.3f}{row['accuracy']:>10.3f}"
                f"{row['macro_f1']:>10.3f}"
            )
        lines.append("")
    if "held_out" in report:
        cpu = report["held_out"]["shipped_cpu_us_per_post"]
        wall = report["held_out"]["shipped_wall_us_per_post"]
        lines.append(
            f"shipped model, us/post in batches of {BATCH:,} over {COST_PASSES} passes of the "
            f"held-out split: CPU min {cpu['min']:.1f} median {cpu['median']:.1f}, "
            f"wall clock min {wall['min']:.1f} median {wall['median']:.1f}"
        )
    return "\n".join(lines).rstrip()


def label_lines(lines: Iterable[str], model: Labeller) -> Iterator[str]:
    """One label per input line (one text per line), in order; blank lines are labelled too, so
    output line k always answers input line k."""
    for line in lines:
        yield model.predict_one(line.rstrip("\r\n"))
