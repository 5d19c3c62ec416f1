"""How much memory the signals state takes, per subject, as stories and authors pile up.

``crisiswatch footprint`` feeds the worst case through SubjectSignalsModel: every post a new
story by a new author (so nothing is shared and every cap is reached), replies among recent
authors (so interaction edges grow too), and measures, at checkpoints, the Python heap it holds
(tracemalloc, per subject) and the JSON bytes of its table values (what the changelog and a
recovering worker carry). The figures should stop growing once the caps are reached: that is
the claim in the README, measured rather than argued.
"""

from __future__ import annotations

import gc
import random
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pipeline.models.sentiment import SentimentScore
from pipeline.models.signals import SignalsConfig, SubjectSignalsModel

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WORDS = [
    "delay",
    "cancel",
    "refund",
    "bag",
    "lost",
    "crew",
    "gate",
    "seat",
    "wifi",
    "meal",
    "pilot",
    "storm",
    "strike",
    "outage",
    "app",
    "booking",
    "upgrade",
    "lounge",
    "fee",
    "boarding",
    "luggage",
    "weather",
    "runway",
    "engine",
    "video",
    "ceo",
    "apology",
]
NEUTRAL = SentimentScore(compound=0.0, label="neutral", proba={})


@dataclass(frozen=True)
class Checkpoint:
    posts_per_subject: int
    subjects: int
    heap_bytes_per_subject: float
    state_json_bytes_per_subject: float
    active_stories: int
    tracked_authors: int


def _post(rng: random.Random, subject: str, n: int) -> dict[str, Any]:
    text = " ".join(rng.choice(WORDS) for _ in range(8)) + f" {subject} case {n}"
    return {
        "id": f"{subject}-{n}",
        "platform": rng.choice(("twitter", "reddit", "tiktok", "news")),
        "author": {"id": f"{subject}-a{n}", "handle": f"a{n}", "followers": rng.randint(0, 10**6)},
        "text": text,
        "created_at": (T0 + timedelta(seconds=2 * n)).isoformat(),
        # A reply to a recent post: authors interact, so the leaders' edges fill up as well.
        "reply_to": f"{subject}-{n - rng.randint(1, 50)}" if n > 50 and n % 3 == 0 else None,
        "repost_of": None,
        "quote_of": None,
    }


def measure(subjects: int, checkpoints: list[int], seed: int = 7) -> list[Checkpoint]:
    """Feed ``max(checkpoints)`` posts to each of ``subjects`` models, measuring at each."""
    rng = random.Random(seed)
    names = [f"s{i}" for i in range(subjects)]
    config = SignalsConfig()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    models = {name: SubjectSignalsModel(name, config) for name in names}
    results = []
    done = 0
    for target in sorted(checkpoints):
        for n in range(done, target):
            for name in names:
                models[name].learn_one(_post(rng, name, n), NEUTRAL)
        done = target
        gc.collect()
        heap = tracemalloc.get_traced_memory()[0] - base
        state = sum(len(orjson.dumps(v)) for m in models.values() for v in m.state_parts().values())
        sample = models[names[0]]
        results.append(
            Checkpoint(
                posts_per_subject=target,
                subjects=subjects,
                heap_bytes_per_subject=heap / subjects,
                state_json_bytes_per_subject=state / subjects,
                active_stories=len(sample.stories.stories()),
                tracked_authors=len(sample.leaders.state["authors"]),
            )
        )
    tracemalloc.stop()
    return results
