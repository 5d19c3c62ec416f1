"""The volume evidence of a crisis score: a report's post counts over the last 5, 15 and 60
minutes against a gamma posterior of the subject's rate (``count_windows``), the volume term
they make, and the calm rate they are tested against (``learn_calm``, ``unusual_counts``)."""

from __future__ import annotations

import functools
import math
from typing import Any

from scipy import special

from pipeline.models.crisis_config import FeedProfile, ScoreConfig, Windows, ramp
from pipeline.models.event_time import epoch as _epoch


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
