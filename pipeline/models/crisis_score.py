"""The crisis score of one subject signal report: weighted evidence, each term 0..1.

Plain Python on the report dict (schemas.SubjectSignals as JSON). The terms, and why:

- ``volume``: the subject's post rate against its own seasonal baseline, needing both a large
  z-score and a large ratio (a busy subject's small bump is significant but not a crisis; a
  quiet subject's 3 posts instead of 1 are a large ratio but not significant). Zero until the
  baseline is warm.
- ``sentiment``: the recent mean sentiment below the subject's baseline, in standard errors and
  in compound units (both needed, as above). Zero until the baseline is warm.
- ``spread``: the hottest story is on several platforms and still moving.
- ``leaders``: opinion leaders carry a hot story.
- ``reach``: a hot story's projected final reach (log scale).
- ``intent``: more of the subject's recent posts state an intent to act against it (boycott,
  cancel, switch, refund, legal action, protest, share widely) than usual: the share's rise
  over its baseline and the number of such posts (both needed). Evidence, not a gate.
- ``anomaly``: river's HalfSpaceTrees on the report's aggregates (not per post), learnt from the
  subject's ordinary reports only, so unusual combinations that no single term catches count.

"Hot" stories had posts in the last 5 minutes of event time: stories stay active for hours, and
yesterday's story must not keep a subject on watch.
"""

from __future__ import annotations

import base64
import math
import pickle
import zlib
from dataclasses import dataclass
from typing import Any

from river import anomaly

TERMS = ("volume", "sentiment", "spread", "leaders", "reach", "intent", "anomaly")


@dataclass(frozen=True, slots=True)
class ScoreConfig:
    weight_volume: float = 0.30
    weight_sentiment: float = 0.25
    weight_spread: float = 0.15
    weight_leaders: float = 0.10
    weight_reach: float = 0.10
    weight_anomaly: float = 0.10
    weight_intent: float = 0.10
    #: Volume: z-score and ratio to the baseline rate at which the term starts and is full.
    volume_z: tuple[float, float] = (3.0, 10.0)
    volume_ratio: tuple[float, float] = (2.0, 6.0)
    #: Sentiment: -z and -delta (compound units) at which the term starts and is full.
    sentiment_z: tuple[float, float] = (2.0, 5.0)
    sentiment_delta: tuple[float, float] = (0.10, 0.35)
    #: Intent: rise of the share of posts with intent over its baseline, and the (decayed)
    #: number of such posts in the fast window, at which the term starts and is full.
    intent_shift: tuple[float, float] = (0.02, 0.12)
    intent_posts: tuple[float, float] = (2.0, 8.0)
    #: A story is hot at this many posts per minute (5-minute average): one post in 5 minutes.
    hot_velocity: float = 0.2
    #: Spread: platforms of the hottest story (1: none, 3: full), and its velocity.
    spread_platforms: tuple[float, float] = (1.0, 3.0)
    spread_velocity: tuple[float, float] = (0.5, 3.0)
    #: Leaders: the best leader score among hot stories (4 = 10,000 followers and nothing else).
    leader_score: tuple[float, float] = (4.0, 8.0)
    #: Reach: log10 of a hot story's projected reach (10,000 to 10 million).
    reach_log10: tuple[float, float] = (4.0, 7.0)
    #: Anomaly: HalfSpaceTrees score range mapped to 0..1, after this many learnt reports.
    anomaly_score: tuple[float, float] = (0.75, 0.98)
    anomaly_warm_reports: int = 120
    anomaly_trees: int = 10
    anomaly_height: int = 6
    anomaly_window: int = 60
    anomaly_seed: int = 42

    def weights(self) -> dict[str, float]:
        return {term: getattr(self, f"weight_{term}") for term in TERMS}


def ramp(x: float, bounds: tuple[float, float]) -> float:
    """0 at or below bounds[0], 1 at or above bounds[1], linear between."""
    lo, hi = bounds
    if not math.isfinite(x) or x <= lo:
        return 0.0
    return 1.0 if x >= hi else (x - lo) / (hi - lo)


def hot_stories(report: dict[str, Any], cfg: ScoreConfig) -> list[dict[str, Any]]:
    """Stories with recent posts, fastest first (ties: more posts, then earlier start)."""
    hot = [s for s in report["stories"] if s["velocity"] >= cfg.hot_velocity]
    return sorted(hot, key=lambda s: (-s["velocity"], -s["posts"], s["started_at"]))


def evidence_terms(report: dict[str, Any], cfg: ScoreConfig) -> dict[str, float]:
    """Each term but ``anomaly``, 0..1."""
    spread, sentiment = report["spread"], report["sentiment"]
    volume = 0.0
    if spread["warm"]:
        volume = min(ramp(spread["z"], cfg.volume_z), ramp(spread["ratio"], cfg.volume_ratio))
    mood = 0.0
    if sentiment["warm"]:
        mood = min(
            ramp(-sentiment["z"], cfg.sentiment_z), ramp(-sentiment["delta"], cfg.sentiment_delta)
        )
    hot = hot_stories(report, cfg)
    spread_term = leaders = reach = 0.0
    for story in hot:
        spread_term = max(
            spread_term,
            min(
                ramp(len(story["platforms"]), cfg.spread_platforms),
                ramp(story["velocity"], cfg.spread_velocity),
            ),
        )
        if story["leaders"]:
            leaders = max(leaders, ramp(story["leaders"][0]["score"], cfg.leader_score))
        projected = story["forecast"]["projected_reach"]
        reach = max(reach, ramp(math.log10(1.0 + projected), cfg.reach_log10))
    intent = min(
        ramp(sentiment.get("intent_shift", 0.0), cfg.intent_shift),
        ramp(sentiment.get("intent_posts", 0.0), cfg.intent_posts),
    )
    return {
        "volume": volume,
        "sentiment": mood,
        "spread": spread_term,
        "leaders": leaders,
        "reach": reach,
        "intent": intent,
    }


def aggregates(report: dict[str, Any], terms: dict[str, float]) -> dict[str, float]:
    """The anomaly model's features, each scaled into 0..1 as HalfSpaceTrees expects."""
    spread, sentiment = report["spread"], report["sentiment"]

    def unit(x: float) -> float:
        return min(1.0, max(0.0, x)) if math.isfinite(x) else 0.0

    return {
        "log_ratio": unit(math.log2(1.0 + max(spread["ratio"], 0.0)) / 5.0),
        "z": unit((spread["z"] + 3.0) / 20.0),
        "acceleration": unit(0.5 + spread["acceleration"] / 20.0),
        "sentiment": unit((1.0 + sentiment["current"]) / 2.0),
        "negative_share": unit(sentiment["negative_share_current"]),
        "platforms": unit(len(spread["platforms"]) / 8.0),
        "authors": unit(math.log10(1.0 + spread["unique_authors"]) / 5.0),
        "spread": terms["spread"],
        "reach": terms["reach"],
    }


class AnomalyModel:
    """HalfSpaceTrees on a subject's aggregates; its state travels as compressed pickle text
    inside the detector's JSON table value (river models are objects, not dicts)."""

    def __init__(self, cfg: ScoreConfig, state: dict[str, Any] | None = None) -> None:
        self.cfg = cfg
        if state and state.get("model"):
            raw = zlib.decompress(base64.b64decode(state["model"]))
            self.model: anomaly.HalfSpaceTrees = pickle.loads(raw)
            self.learned = int(state["learned"])
        else:
            self.model = anomaly.HalfSpaceTrees(
                n_trees=cfg.anomaly_trees,
                height=cfg.anomaly_height,
                window_size=cfg.anomaly_window,
                seed=cfg.anomaly_seed,
            )
            self.learned = 0

    @property
    def state(self) -> dict[str, Any]:
        packed = base64.b64encode(zlib.compress(pickle.dumps(self.model), 6)).decode("ascii")
        return {"learned": self.learned, "model": packed}

    def score_one(self, x: dict[str, float]) -> float:
        if self.learned < self.cfg.anomaly_warm_reports:
            return 0.0
        return ramp(float(self.model.score_one(x)), self.cfg.anomaly_score)

    def learn_one(self, x: dict[str, float]) -> None:
        self.model.learn_one(x)
        self.learned += 1


def crisis_score(terms: dict[str, float], cfg: ScoreConfig) -> float:
    weights = cfg.weights()
    total = sum(weights.values())
    return sum(weights[t] * terms[t] for t in TERMS) / total if total else 0.0
