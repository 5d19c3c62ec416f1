"""The crisis score of one subject signal report: weighted evidence, each term 0..1 or unknown.

Plain Python on the report dict (schemas.SubjectSignals as JSON). Terms are functions in
``TERM_FUNCTIONS`` (a registry: a new kind of evidence is one function and one weight); each
returns 0..1, or None when the subject's feed cannot show that evidence (``FeedProfile``: the
platforms and follower counts the feed has shown so far). The score is the weighted mean of the
known terms, so a one-platform feed without follower counts is judged on what it can show, not
marked down for what it cannot. The terms, and why:

- ``volume``: counts of the last 5, 15 and 60 minutes against a gamma posterior of the
  subject's rate (``count_windows``): both surprising (significance) and large against the
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

import functools
import math
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from river import anomaly
from scipy import special

from pipeline.models import hst_state

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


def hot_stories(report: dict[str, Any], cfg: ScoreConfig) -> Iterator[dict[str, Any]]:
    """Stories with recent posts, in the report's order: each term takes a maximum over them,
    which no order changes (a term is never NaN nor -0.0), so they are not sorted."""
    hot_velocity = cfg.hot_velocity
    return (s for s in report["stories"] if s["velocity"] >= hot_velocity)


FeedProfile = dict[str, Any]
#: (surprise, ratio to the upper credible rate) of each count window (see count_windows).
Windows = list[tuple[float, float]]


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


def learn_calm(
    feed: FeedProfile,
    report: dict[str, Any],
    cfg: ScoreConfig,
    *,
    normal: bool,
    windows: Windows | None = None,
) -> None:
    """After scoring: an ordinary report (the subject in its normal phase, its counts not
    unusual) makes its baseline the calm one. A short history's baseline learns a burst within
    minutes (nothing to clip it against yet), so counts are tested against the calm rate; it
    is held at most ``volume_hold_minutes`` in the normal phase (so a lasting rise that never
    became a crisis is learnt) and ``volume_episode_hold_minutes`` in an episode (so a new
    level lasting longer than that ends the crisis). ``windows``: the report's
    ``count_windows`` against ``feed`` as it is, when the caller has them."""
    as_of = _epoch(report["as_of"])
    hold = cfg.volume_hold_minutes if normal else cfg.volume_episode_hold_minutes
    held = feed["calm_at"] is not None and as_of - feed["calm_at"] > hold * 60
    if (
        feed["calm_rate"] is None
        or held
        or (normal and not unusual_counts(report, cfg, feed, windows=windows))
    ):
        feed["calm_rate"], feed["calm_at"] = report["spread"]["baseline_rate"], as_of


def unusual_counts(
    report: dict[str, Any],
    cfg: ScoreConfig,
    feed: FeedProfile,
    *,
    sustained: bool = False,
    windows: Windows | None = None,
) -> bool:
    """Whether a count window is unusual against the calm rate; ``sustained`` adds the long
    window (the last ``sustained_minutes``) for a sparse feed (calm hours of fewer posts than
    ``sustained_below_hourly``), whose quiet hour may be a lull in a crisis lasting days. A
    busy feed's quiet hour says the crisis is over. ``windows``: the report's ``count_windows``
    against ``feed``, when the caller has them (used unless the long window is added)."""
    surprise, ratio = cfg.volume_freeze
    extra: tuple[tuple[float, int], ...] = ()
    checkpoints = feed.get("checkpoints") or []
    calm_hourly = 60.0 * (feed["calm_rate"] or 0.0)
    if sustained and checkpoints and calm_hourly < cfg.sustained_below_hourly:
        since, posts = checkpoints[0]
        minutes = (_epoch(report["as_of"]) - since) / 60.0
        if minutes >= cfg.checkpoint_minutes:
            extra = ((minutes, int(report["posts"]) - int(posts)),)
    if windows is None or extra:
        windows = count_windows(report, cfg, feed, extra)
    return any(s >= surprise and r >= ratio for s, r in windows)


def volume_term(report: dict[str, Any], cfg: ScoreConfig, feed: FeedProfile) -> float:
    """Counts, with no warm-up gate: the counts of the last 5, 15 and 60 minutes against the
    negative-binomial predictive of a Poisson rate with a gamma posterior, so a short or quiet
    history is uncertain rather than ignored, and a sparse feed's sustained rise counts over
    the hour. Each window needs both a surprise (significance) and a ratio to the rate's upper
    credible bound (effect size): a busy subject's small bump is significant but not a
    crisis; a quiet subject's 3 posts instead of 1 are a large ratio but not significant."""
    return volume_of(count_windows(report, cfg, feed), cfg)


def volume_of(windows: Windows, cfg: ScoreConfig) -> float:
    """The volume term of a report's ``count_windows``."""
    return max(
        (
            min(ramp(surprise, cfg.volume_surprise), ramp(ratio, cfg.volume_ratio))
            for surprise, ratio in windows
        ),
        default=0.0,
    )


def count_windows(
    report: dict[str, Any],
    cfg: ScoreConfig,
    feed: FeedProfile,
    extra: tuple[tuple[float, int], ...] = (),
) -> Windows:
    """(surprise, ratio to the upper credible rate) of each count window, and of ``extra``
    (minutes, count) windows. A surprise counts only beside a ratio at or above ``cfg``'s
    ``volume_ratio[0]`` (below it the volume term is 0) or ``volume_freeze[1]`` (below it the
    counts are not unusual): below both it is not computed (0.0), the usual case of a calm
    report (tests/unit/models/test_crisis_fast_paths.py)."""
    spread = report["spread"]
    shape, rate, history = rate_posterior(report, cfg, feed)
    # Until a day has been seen, the rate at this hour of day is uncertain by the daily cycle
    # too: with the ratio's start of 2, an allowance of 5 lets a first morning rise 10x over
    # the night (the airline tweets' and the simulator's cycle is 9x) without being a burst.
    unseen_day = max(0.0, 1.0 - history / cfg.volume_season_minutes)
    upper = max(gamma_quantile(shape, cfg.volume_upper_quantile) / rate, cfg.volume_min_rate) * (
        1.0 + (cfg.volume_daily_amplitude - 1.0) * unseen_day
    )
    counts = [(window, int(spread[field])) for window, field in VOLUME_WINDOWS] + list(extra)
    counted = min(cfg.volume_ratio[0], cfg.volume_freeze[1])
    windows = []
    for window, count in counts:
        ratio = count / window / upper
        # "not >=": a NaN ratio counts for nothing either (ramp gives 0, unusual needs >=).
        surprise = 0.0 if not ratio >= counted else count_surprise(count, window, shape, rate)
        windows.append((surprise, ratio))
    return windows


#: (minutes, report field) of the count windows the volume term tests.
VOLUME_WINDOWS = ((5.0, "volume_5m"), (15.0, "volume_15m"), (60.0, "volume_60m"))


def rate_posterior(
    report: dict[str, Any], cfg: ScoreConfig, feed: FeedProfile
) -> tuple[float, float, float]:
    """Gamma(shape, rate) posterior of the subject's post rate per minute: the prior updated
    with the baseline's rate over T minutes of learnt history (capped at its memory); and the
    minutes of history (up to the last calm report: see ``learn_calm``)."""
    baseline, until = report["spread"]["baseline_rate"], _epoch(report["as_of"])
    if feed["calm_rate"] is not None and feed["calm_at"] < until:
        baseline, until = min(baseline, feed["calm_rate"]), feed["calm_at"]
    history = 0.0
    if feed["since"] is not None:
        history = (until - feed["since"]) / 60.0 - cfg.volume_learn_lag_minutes
    exposure = min(max(history, 0.0), cfg.volume_max_exposure_minutes)
    shape = cfg.volume_prior[0] + max(baseline, 0.0) * exposure
    return shape, cfg.volume_prior[1] + exposure, max(history, 0.0)


def count_surprise(count: int, window: float, shape: float, rate: float) -> float:
    """-log10 P(X >= count), X negative binomial (shape, p = rate / (rate + window)): the
    predictive count of a window under the gamma posterior. P(X >= k) = I_{1-p}(k, shape)."""
    if count <= 0:
        return 0.0
    tail = beta_tail(count, shape, window / (rate + window))
    return -math.log10(tail) if tail > 0 else 300.0


# scipy's special functions, remembered: the same arguments give the same float, and most
# calls repeat one made before. A report tests its count windows twice (scored, then in
# learn_calm), and a subject's rate posterior stays the same over several reports (its baseline
# learns a 5-minute block at a time): 81% of the quantiles and 60% of the tails on the bench's
# sparse stream. Bounded, so a long run with many subjects keeps the newest.
@functools.lru_cache(maxsize=8192)
def gamma_quantile(shape: float, q: float) -> float:
    """The q quantile of Gamma(shape, 1)."""
    return float(special.gammaincinv(shape, q))


@functools.lru_cache(maxsize=8192)
def beta_tail(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    return float(special.betainc(a, b, x))


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


class AnomalyModel:
    """HalfSpaceTrees on a subject's aggregates, stored in two parts (pipeline/models/
    hst_state.py): ``structure`` (the whole model, pickled, written once its trees are built) and
    ``masses`` (what learning changes). ``take_changes`` gives the parts changed since its last
    call, so a table is written only what changed. A ``state`` of the older format (the whole
    model in one, ``{"learned", "model"}``) still loads; its parts are then all changed."""

    def __init__(
        self,
        cfg: ScoreConfig,
        state: dict[str, Any] | None = None,
        parts: Mapping[str, dict[str, Any] | None] | None = None,
    ) -> None:
        self.cfg = cfg
        structure = (parts or {}).get("structure")
        if structure:
            self.model = hst_state.unpack_model(structure["model"])
            masses = (parts or {}).get("masses")
            if masses:
                hst_state.apply_masses(self.model, masses)
            self.learned = int(masses["learned"]) if masses else 0
            self._written: tuple[bool, int] | None = (bool(self.model.trees), self.learned)
        elif state and state.get("model"):  # the older format: everything in one value
            self.model = hst_state.unpack_model(state["model"])
            self.learned = int(state["learned"])
            self._written = None
        else:
            self.model = anomaly.HalfSpaceTrees(
                n_trees=cfg.anomaly_trees,
                height=cfg.anomaly_height,
                window_size=cfg.anomaly_window,
                seed=cfg.anomaly_seed,
            )
            self.learned = 0
            self._written = None

    @property
    def state(self) -> dict[str, Any]:
        """The whole model in one value (the older format; loads as it always did)."""
        return {"learned": self.learned, "model": hst_state.pack_model(self.model)}

    def take_changes(self) -> dict[str, dict[str, Any]]:
        """The parts changed since the last call (a version check, nothing serialised to
        compare): ``structure`` when the trees were built since (or never written), ``masses``
        when it learnt since."""
        built = bool(self.model.trees)
        changes: dict[str, dict[str, Any]] = {}
        if self._written is None or self._written[0] != built:
            changes["structure"] = {"model": hst_state.pack_model(self.model)}
        if self._written is None or self._written[1] != self.learned or changes:
            changes["masses"] = {"learned": self.learned, **hst_state.pack_masses(self.model)}
        self._written = (built, self.learned)
        return changes

    def score_one(self, x: dict[str, float]) -> float | None:
        if self.learned < self.cfg.anomaly_warm_reports:
            return None  # has not seen enough ordinary reports to tell unusual ones
        return ramp(float(self.model.score_one(x)), self.cfg.anomaly_score)

    def learn_one(self, x: dict[str, float]) -> None:
        self.model.learn_one(x)
        self.learned += 1


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


# A report's as_of is read as a time by several steps of its scoring (5 to 6 times).
@functools.lru_cache(maxsize=256)
def _epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()
