"""The crisis score's settings (``ScoreConfig``), its terms' names, and what its modules share:
``ramp``, a subject's ``FeedProfile``. Plain Python, no
Kafka: ``crisis_score.py`` scores a report, ``crisis_volume.py`` tests its counts,
``crisis_anomaly.py`` learns what is ordinary."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

TERMS = ("volume", "sentiment", "spread", "leaders", "reach", "intent", "harm", "anomaly")
#: Terms that are evidence for a crisis only: their weight counts as far as they are present.
SUPPORTING = frozenset({"intent", "harm"})


@dataclass(frozen=True, slots=True)
class ScoreConfig:
    weight_volume: float = 0.30
    weight_sentiment: float = 0.25
    weight_spread: float = 0.15
    weight_leaders: float = 0.10
    weight_reach: float = 0.10
    weight_anomaly: float = 0.10
    weight_intent: float = 0.10
    weight_harm: float = 0.30
    #: Volume: ratio of a window's rate to the rate's upper credible bound at which the term
    #: starts and is full (the effect size; the surprise below is the significance).
    volume_ratio: tuple[float, float] = (2.0, 6.0)
    #: Count surprise (-log10 tail probability) at which the term starts and is full.
    volume_surprise: tuple[float, float] = (4.0, 10.0)
    #: Gamma prior of the post rate (shape, minutes): diffuse, so a new subject's first posts
    #: are not a surprise; history narrows it.
    volume_prior: tuple[float, float] = (0.5, 1.0)
    #: The baseline learns a 5-minute block 2 minutes after it ends.
    volume_learn_lag_minutes: float = 7.0
    #: History beyond this adds no certainty (the baseline is an EW mean of ~100 blocks).
    volume_max_exposure_minutes: float = 500.0
    volume_upper_quantile: float = 0.95
    #: Daily cycle allowed for while less than a season (a day) of history has been seen:
    #: the upper rate is multiplied by up to this, falling linearly to 1 over the season.
    #: 5 against 10: one more real crisis detected on each dev set, same false alerts.
    volume_daily_amplitude: float = 5.0
    #: A window this surprising (-log10 p) at this ratio makes the counts unusual: the calm
    #: baseline stops learning (for at most volume_hold_minutes in the normal phase).
    volume_freeze: tuple[float, float] = (3.0, 1.5)
    volume_hold_minutes: float = 360.0
    volume_episode_hold_minutes: float = 1440.0
    #: The long window that keeps a crisis open through a lull, and its checkpoint spacing.
    sustained_minutes: float = 360.0
    checkpoint_minutes: float = 10.0
    sustained_below_hourly: float = 5.0
    volume_season_minutes: float = 1440.0
    volume_min_rate: float = 1 / 60
    #: The score's denominator is at least this weight (volume + sentiment by default).
    min_known_weight: float = 0.55
    #: Sentiment: -z and -delta (compound units) at which the term starts and is full.
    sentiment_z: tuple[float, float] = (2.0, 5.0)
    sentiment_delta: tuple[float, float] = (0.10, 0.35)
    #: Intent: rise of the share of posts with intent over its baseline, and the (decayed)
    #: number of such posts in the fast window, at which the term starts and is full.
    intent_shift: tuple[float, float] = (0.02, 0.12)
    intent_posts: tuple[float, float] = (2.0, 8.0)
    #: Harm: rise of the share of posts reporting harm over the usual share, and how unlikely
    #: that many such posts among the fast window's are at the usual share (-log10 of the
    #: binomial tail), at which the term starts and is full: 4 of 4 posts at 5% is 5.2, 3 of 10
    #: is 1.9, so a thin feed's few posts count when they all report harm.
    harm_shift: tuple[float, float] = (0.15, 0.35)
    harm_surprise: tuple[float, float] = (3.0, 6.0)
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


FeedProfile = dict[str, Any]
#: (surprise, ratio to the upper credible rate) of each count window (see count_windows).
Windows = list[tuple[float, float]]
