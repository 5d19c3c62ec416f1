"""Honest measurement of the sentiment models on the labelled 2015 airline tweets.

Prequential protocol: the tweets are replayed in event-time order (tweet_created, then tweet_id)
and each one is first predicted, then learned, exactly as ops corrections would reach a running
model; no tweet is ever scored by a model that has seen its label. The lexicon is scored on the
same stream as the baseline. Also the line-by-line labeller behind ``crisiswatch sentiment``.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from river import metrics

from pipeline.models.sentiment import LABELS, LexiconSentiment, SentimentModel

CREATED_FORMAT = "%m/%d/%Y %H:%M"


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


def train(path: Path, limit: int | None = None) -> SentimentModel:
    """A model that has learned the labelled tweets (e.g. to seed the CLI labeller)."""
    model = SentimentModel()
    for post in read_labelled(path, limit):
        model.learn_one(post.text, post.label)
    return model


class _Tally:
    """Accuracy and macro-F1 overall and over the second half of the stream, and scoring time."""

    def __init__(self) -> None:
        self.accuracy, self.macro_f1 = metrics.Accuracy(), metrics.MacroF1()
        self.late_accuracy, self.late_macro_f1 = metrics.Accuracy(), metrics.MacroF1()
        self.seconds = 0.0

    def update(self, truth: str, predicted: str, late: bool) -> None:
        self.accuracy.update(truth, predicted)
        self.macro_f1.update(truth, predicted)
        if late:
            self.late_accuracy.update(truth, predicted)
            self.late_macro_f1.update(truth, predicted)

    def report(self, n: int) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy.get(),
            "macro_f1": self.macro_f1.get(),
            "last_half": {
                "accuracy": self.late_accuracy.get(),
                "macro_f1": self.late_macro_f1.get(),
            },
            "posts_per_s": n / self.seconds if self.seconds > 0 else 0.0,
        }


def evaluate(path: Path, limit: int | None = None) -> dict[str, Any]:
    """Prequential accuracy and macro-F1 of the lexicon and of the online model."""
    posts = read_labelled(path, limit)
    lexicon, model = LexiconSentiment(), SentimentModel()
    tallies = {"lexicon": _Tally(), "online": _Tally()}
    half = len(posts) // 2
    clock = time.perf_counter
    for i, post in enumerate(posts):
        for name, scorer in (("lexicon", lexicon), ("online", model)):
            started = clock()
            predicted = scorer.predict_one(post.text)
            tallies[name].seconds += clock() - started
            tallies[name].update(post.label, predicted, late=i >= half)
        model.learn_one(post.text, post.label)
    counts = Counter(post.label for post in posts)
    return {
        "n": len(posts),
        "n_last_half": len(posts) - half,
        "label_share": {label: counts[label] / len(posts) if posts else 0.0 for label in LABELS},
        "lexicon": tallies["lexicon"].report(len(posts)),
        "online": tallies["online"].report(len(posts)),
    }


def format_report(report: dict[str, Any]) -> str:
    share = report["label_share"]
    lines = [
        f"Sentiment, prequential (predict, then learn) over {report['n']:,} posts in event time",
        "label share: " + ", ".join(f"{label} {share[label]:.3f}" for label in LABELS),
        "",
        f"{'':16}{'overall':>20}{'last half':>20}{'scoring':>12}",
        f"{'model':16}{'accuracy':>10}{'macro-F1':>10}{'accuracy':>10}{'macro-F1':>10}"
        f"{'posts/s':>12}",
    ]
    for name, title in (("lexicon", "lexicon (VADER)"), ("online", "online model")):
        row = report[name]
        late = row["last_half"]
        lines.append(
            f"{title:16}{row['accuracy']:>10.3f}{row['macro_f1']:>10.3f}"
            f"{late['accuracy']:>10.3f}{late['macro_f1']:>10.3f}{row['posts_per_s']:>12,.0f}"
        )
    return "\n".join(lines)


def label_lines(lines: Iterable[str], model: Labeller) -> Iterator[str]:
    """One label per input line (one text per line), in order; blank lines are labelled too, so
    output line k always answers input line k."""
    for line in lines:
        yield model.predict_one(line.rstrip("\r\n"))
