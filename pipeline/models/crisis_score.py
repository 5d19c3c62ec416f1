"""The crisis score of one subject signal report: weighted evidence, each term 0..1 or unknown.

Plain Python on the report dict (schemas.SubjectSignals as JSON). Terms are functions in
``TERM_FUNCTIONS`` (a registry: a new kind of evidence is one function and one weight); each
returns 0..1, or None when the subject's feed cannot show that evidence (``FeedProfile``: the
platforms and follower counts the feed has shown so far). The score is the weighted mean of the
known terms, so a one-platform feed without follower counts is judged on what it can show, not
marked down for what it cannot. The terms, and why:

- ``volume``: counts of the last 5, 15 and 60 minutes against a gamma posterior of the
  subject's rate (``crisis_volume.py``): both surprising (significance) and large against the
  rate's upper credible bound (effect size). Meaningful from the first hour of history, with
  no warm-up gate: a short history only widens the posterior.
- ``sentiment``: the recent mean sentiment below the subject's baseline, in standard errors and
  in compound units (both needed, as above). Unknown until the baseline is warm.
- ``spread``: the hottest story is on several platforms and still moving. Unknown on a feed
  that has shown one platform only.
- ``leaders``: opinion leaders carry a hot story. Unknown without follower counts.
- ``reach``: a hot story's projected final reach (log scale). Unknown without follower counts.
- ``intent``: more of the subject's recent posts state an intent to act against it (boycott,
  cancel, switch, refund, legal action, protest, share widely) than usual: the share's rise
  over its baseline and the number of such posts (both needed). Evidence for, never against
  (``SUPPORTING``): most crises have no boycott (nobody boycotts an earthquake), so its weight
  counts only as far as the term is present, and it can only raise the score.
- ``harm``: more of the subject's recent posts report harm to people, property or service
  (deaths, injuries, a crash, fire, attack, disaster, outage, breach, recall: harm.py) than
  usual, and enough of them (both needed). The usual share is that of posts in general until
  the subject's own baseline is warm, so it is evidence with no history: a keyword stream that
  begins with the crisis (its collection started when the event did) has no quiet hours for the
  volume term to compare against, and its first posts are mostly reports of harm. Evidence for,
  never against (``SUPPORTING``); at full it alone reaches the open threshold against a calm
  volume (0.30 / (0.30 + 0.30)), so that such a stream opens within its first posts.
- ``anomaly``: river's HalfSpaceTrees on the report's aggregates (not per post), learnt from the
  subject's ordinary reports only, so unusual combinations that no single term catches count.
  Unknown until it has learnt enough reports.

"Hot" stories had posts in the last 5 minutes of event time: stories stay active for hours, and
yesterday's story must not keep a subject on watch.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from scipy import special

from pipeline.models.crisis_config import (
    SUPPORTING,
    TERMS,
    FeedProfile,
    ScoreConfig,
    Windows,
    ramp,
)
from pipeline.models.crisis_volume import volume_of, volume_term
from pipeline.models.event_time import epoch as _epoch


def hot_stories(report: dict[str, Any], cfg: ScoreConfig) -> Iterator[dict[str, Any]]:
    """Stories with recent posts, in the report's order: each term takes a maximum over them,
    which no order changes (a term is never NaN nor -0.0), so they are not sorted."""
    hot_velocity = cfg.hot_velocity
    return (s for s in report["stories"] if s["velocity"] >= hot_velocity)


def new_feed_profile() -> FeedProfile:
    """What a subject's feed has shown so far: the terms it can evidence at all."""
    return {
        "since": None,
        "platforms": [],
        "followers": False,
        # The baseline rate and time of the last ordinary report (see learn_calm).
        "calm_rate": None,
        "calm_at": None,
    }


def observe_feed(
    feed: FeedProfile, report: dict[str, Any], cfg: ScoreConfig, max_platforms: int = 16
) -> None:
    """Learn from one report what the feed can show (before its terms are scored, so a report
    that first shows a second platform or a follower count already counts it). Its lists are
    replaced, never edited: a caller may learn on a shallow copy and keep or drop it."""
    spread = report["spread"]
    if feed["since"] is None:
        feed["since"] = _epoch(report["as_of"]) - report["interval_seconds"]
    platforms = set(feed["platforms"])
    for platform in spread["platforms"]:
        if platform not in platforms and len(platforms) < max_platforms:
            platforms.add(platform)
    feed["platforms"] = sorted(platforms)
    if not feed["followers"]:
        feed["followers"] = spread["audience"] > 0 or any(
            s["initiator"]["followers"] > 0 for s in report["stories"]
        )
    # Checkpoints of the subject's post count (one per 10 minutes, the last 6 hours and one
    # before): the long window that tells a crisis's night lull from its end.
    as_of = _epoch(report["as_of"])
    checkpoints = list(feed.get("checkpoints", []))
    if not checkpoints or as_of - checkpoints[-1][0] >= cfg.checkpoint_minutes * 60:
        checkpoints.append([as_of, int(report["posts"])])
    horizon = as_of - cfg.sustained_minutes * 60
    while len(checkpoints) > 1 and checkpoints[1][0] <= horizon:
        checkpoints.pop(0)
    feed["checkpoints"] = checkpoints


TermFn = Callable[[dict[str, Any], ScoreConfig, FeedProfile], float | None]


def sentiment_term(report: dict[str, Any], cfg: ScoreConfig, feed: FeedProfile) -> float | None:
    sentiment = report["sentiment"]
    if not sentiment["warm"]:
        return None  # no baseline yet: unknown, not calm
    return min(
        ramp(-sentiment["z"], cfg.sentiment_z), ramp(-sentiment["delta"], cfg.sentiment_delta)
    )


def spread_term(report: dict[str, Any], cfg: ScoreConfig, feed: FeedProfile) -> float | None:
    if len(feed["platforms"]) < 2:
        return None  # a one-platform feed cannot show spread across platforms
    return max(
        (
            min(
                ramp(len(story["platforms"]), cfg.spread_platforms),
                ramp(story["velocity"], cfg.spread_velocity),
            )
            for story in hot_stories(report, cfg)
        ),
        default=0.0,
    )


def leaders_term(report: dict[str, Any], cfg: ScoreConfig, feed: FeedProfile) -> float | None:
    if not feed["followers"]:
        return None  # follower counts unknown: influence cannot be told
    return max(
        (
            ramp(story["leaders"][0]["score"], cfg.leader_score)
            for story in hot_stories(report, cfg)
            if story["leaders"]
        ),
        default=0.0,
    )


def reach_term(report: dict[str, Any], cfg: ScoreConfig, feed: FeedProfile) -> float | None:
    if not feed["followers"]:
        return None  # reach is followers: unknown without them
    return max(
        (
            ramp(math.log10(1.0 + story["forecast"]["projected_reach"]), cfg.reach_log10)
            for story in hot_stories(report, cfg)
        ),
        default=0.0,
    )


def intent_term(report: dict[str, Any], cfg: ScoreConfig, feed: FeedProfile) -> float | None:
    sentiment = report["sentiment"]
    return min(
        ramp(sentiment.get("intent_shift", 0.0), cfg.intent_shift),
        ramp(sentiment.get("intent_posts", 0.0), cfg.intent_posts),
    )


def harm_term(report: dict[str, Any], cfg: ScoreConfig, feed: FeedProfile) -> float | None:
    sentiment = report["sentiment"]
    share, harmed = sentiment.get("harm_share_current", 0.0), sentiment.get("harm_posts", 0.0)
    if share <= 0.0 or harmed <= 0.0:
        return 0.0
    usual = min(max(sentiment.get("harm_share_baseline", 0.0), 1e-3), 1.0 - 1e-3)
    # Decayed counts: the fast window's posts n and those reporting harm k (k = share * n).
    surprise = binomial_surprise(harmed, harmed / share, usual)
    return min(
        ramp(sentiment.get("harm_shift", 0.0), cfg.harm_shift), ramp(surprise, cfg.harm_surprise)
    )


def binomial_surprise(k: float, n: float, p: float) -> float:
    """-log10 P(X >= k), X binomial (n, p), for real k <= n (decayed counts):
    P(X >= k) = I_p(k, n - k + 1)."""
    tail = float(special.betainc(k, max(n - k, 0.0) + 1.0, p))
    return -math.log10(tail) if tail > 0 else 300.0


#: The evidence terms the report itself gives, by name (``anomaly`` is the detector's model).
#: A term returns 0..1, or None when the subject's feed cannot show that evidence.
TERM_FUNCTIONS: dict[str, TermFn] = {
    "volume": volume_term,
    "sentiment": sentiment_term,
    "spread": spread_term,
    "leaders": leaders_term,
    "reach": reach_term,
    "intent": intent_term,
    "harm": harm_term,
}


def evidence_terms(
    report: dict[str, Any],
    cfg: ScoreConfig,
    feed: FeedProfile | None = None,
    windows: Windows | None = None,
) -> dict[str, float | None]:
    """Each term but ``anomaly``: 0..1, or None (unknown). ``windows``: the report's
    ``count_windows`` against ``feed``, when the caller has them (the detector computes them
    once, for the volume term and for learn_calm)."""
    feed = feed if feed is not None else new_feed_profile()
    return {
        name: volume_of(windows, cfg)
        if windows is not None and name == "volume"
        else fn(report, cfg, feed)
        for name, fn in TERM_FUNCTIONS.items()
    }


def aggregates(report: dict[str, Any], terms: dict[str, float | None]) -> dict[str, float]:
    """The anomaly model's features, each scaled into 0..1 as HalfSpaceTrees expects."""
    spread, sentiment = report["spread"], report["sentiment"]
    unit = _unit
    return {
        "log_ratio": unit(math.log2(1.0 + max(spread["ratio"], 0.0)) / 5.0),
        "z": unit((spread["z"] + 3.0) / 20.0),
        "acceleration": unit(0.5 + spread["acceleration"] / 20.0),
        "sentiment": unit((1.0 + sentiment["current"]) / 2.0),
        "negative_share": unit(sentiment["negative_share_current"]),
        "platforms": unit(len(spread["platforms"]) / 8.0),
        "authors": unit(math.log10(1.0 + spread["unique_authors"]) / 5.0),
        "spread": terms["spread"] or 0.0,
        "reach": terms["reach"] or 0.0,
    }


def _unit(x: float) -> float:
    return min(1.0, max(0.0, x)) if math.isfinite(x) else 0.0


def crisis_score(terms: Mapping[str, float | None], cfg: ScoreConfig) -> float:
    """The weighted mean of the known terms: a term the feed cannot show (None) is left out,
    not counted as 0, and a supporting term (``SUPPORTING``) counts as far as it is present.
    The denominator is at least ``min_known_weight`` so that when little is known, one term
    must be near full to reach the open threshold alone."""
    # Per report: the weights read in one call, the known terms in TERMS order in two lists.
    weight: list[float] = []
    level: list[float] = []
    for t, w in zip(TERMS, _WEIGHTS_OF(cfg), strict=True):
        if (v := terms.get(t)) is None:
            continue
        # A supporting term weighs as much as it is present, as if full: it can only pull the
        # score up, (S + w t) / (W + w t) growing with t whenever S <= W.
        supporting = t in SUPPORTING
        weight.append(w * (float(v) if supporting else 1.0))
        level.append(1.0 if supporting else float(v))
    total = max(sum(weight), cfg.min_known_weight)
    return sum(w * lv for w, lv in zip(weight, level, strict=True)) / total if total else 0.0


#: A ScoreConfig's weights in TERMS order (ScoreConfig.weights without building a dict).
_WEIGHTS_OF = operator.attrgetter(*(f"weight_{term}" for term in TERMS))
