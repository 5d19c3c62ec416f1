"""Reach forecast: how far a story will reach (crisis step 3).

``ReachForecaster`` projects a story's final reach from its (event time, followers) points with
SEISMIC (Zhao et al., KDD 2015): a self-exciting process whose intensity is each earlier post's
followers times a power-law memory kernel times the story's current infectiousness.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any


@dataclass(frozen=True, slots=True)
class ForecastConfig:
    #: SEISMIC memory kernel: flat for the first ``kernel_plateau_seconds`` (people react at
    #: once), then a power law with exponent -(1 + kernel_theta); values fitted on Twitter.
    kernel_plateau_seconds: float = 300.0
    kernel_theta: float = 0.242
    #: Mean followers of a future poster: sets the branching factor infectiousness * n_star and
    #: the reach of each projected post (SEISMIC's default for Twitter).
    n_star: float = 100.0
    #: Infectiousness is estimated over a triangular window of half the story's age, clamped to
    #: these bounds, widened to hold at least ``min_count`` posts (as SEISMIC does).
    min_window_seconds: float = 300.0
    max_window_seconds: float = 7200.0
    min_count: int = 5
    #: Coverage of the low..high interval.
    interval: float = 0.9
    #: Projections (and high) never exceed this times the reach so far; supercritical ones
    #: (branching >= 1, unbounded in the model) are set to it.
    max_multiplier: float = 10.0

    def __post_init__(self) -> None:
        if self.kernel_plateau_seconds <= 0.0 or not 0.0 < self.kernel_theta < 1.0:
            raise ValueError("kernel_plateau_seconds must be positive, kernel_theta in (0, 1)")
        if self.n_star <= 0.0 or not 0.0 < self.min_window_seconds <= self.max_window_seconds:
            raise ValueError("n_star must be positive, 0 < min_window <= max_window")
        if self.min_count < 1 or not 0.0 < self.interval < 1.0 or self.max_multiplier < 1.0:
            raise ValueError("min_count must be >= 1, interval in (0, 1), max_multiplier >= 1")


# Pure, and asked for the same few (window count, tail) pairs report after report: the bisection
# was a tenth of a worker's time before it was cached.
@functools.lru_cache(maxsize=1024)
def _gamma_quantile(shape: int, prob: float) -> float:
    """Quantile of Gamma(shape, 1) (= chi-square with 2 * shape dof, halved), shape >= 1.

    Exact by bisection on P(X <= x) = P(Poisson(x) >= shape) up to shape 50, then
    Wilson-Hilferty (within 0.1% there); pure Python, deterministic.
    """
    if shape > 50:
        z = NormalDist().inv_cdf(prob)
        return shape * (1.0 - 1.0 / (9.0 * shape) + z / (3.0 * math.sqrt(shape))) ** 3

    def cdf(x: float) -> float:
        term = total = math.exp(-x)
        for j in range(1, shape):
            term *= x / j
            total += term
        return 1.0 - total

    low, high = 0.0, shape + 10.0 * math.sqrt(shape) + 20.0
    for _ in range(60):
        mid = (low + high) / 2.0
        low, high = (mid, high) if cdf(mid) < prob else (low, mid)
    return (low + high) / 2.0


class ReachForecaster:
    """SEISMIC final-reach projection of one story; stateless (``predict_one`` is pure).

    Model: a post by someone with n followers at time t_i brings p * n * phi(t - t_i) new posts
    per second, where phi is the kernel above (it integrates to 1). Infectiousness p is
    estimated as the triangular-window-weighted post count divided by the followers' exposure
    weighted the same way (time-varying, so a story that stopped has p near 0). Each future
    post brings p * n_star more, so the expected future count is
    p * M / (1 - p * n_star), where M = sum of n_i * (kernel mass still ahead of post i), and
    future reach is n_star per future post. The first post of the story is the seed, not a
    reaction, so it is exposure but is not counted in p.

    Followers unknown (every post's count 0, as in many public data sets): the reach cannot be
    projected, and the posts are projected by the same process with every post weighing 1 and
    n_star = 1 (a plain self-exciting count process), so a cascade still gets a forecast.

    Interval: the window's post count k is taken as Poisson, and p is scaled by the ends of
    k's exact (Garwood, chi-square) interval at ``interval`` coverage over k, as SEISMIC does;
    the projection grows with p, so low and high are the projections at those ends. It is the
    uncertainty of the expected reach from p alone: the randomness of the cascade itself and of
    future posters' followers come on top.
    """

    def __init__(self, config: ForecastConfig | None = None) -> None:
        self.config = config or ForecastConfig()
        theta = self.config.kernel_theta
        self._c0 = theta / (self.config.kernel_plateau_seconds * (1.0 + theta))  # phi on plateau

    def predict_one(
        self,
        points: Sequence[Sequence[float]],
        now: float,
        reach_so_far: int | None = None,
        count_so_far: int | None = None,
    ) -> dict[str, Any]:
        """Project from (event time, followers) points, oldest first, as of event time ``now``.

        If the caller kept only the newest points, ``reach_so_far`` and ``count_so_far`` are the
        story's totals: the followers of the dropped posts are then placed at the oldest kept
        point's time (an approximation, exact when the kept points cover the window).
        """
        cfg = self.config
        # max(0.0, f) as a conditional (same value, NaN included): these are a story's up to
        # 200 points, on every report.
        posts = sorted([(float(t), x if (x := float(f)) > 0.0 else 0.0) for t, f in points])
        listed_reach = sum(f for _, f in posts)
        reach = max(float(reach_so_far or 0), listed_reach)
        count = max(count_so_far or 0, len(posts))
        n_star = cfg.n_star
        counts_only = reach <= 0.0 and bool(posts)
        if counts_only:  # followers unknown: every post weighs 1, and so does a future one
            posts = [(t, 1.0) for t, _ in posts]
            listed_reach, reach, n_star = float(len(posts)), float(count), 1.0
        if not posts:
            return self._result(
                n_star=n_star,
                counts_only=False,
                reach=reach,
                count=count,
                ahead=0.0,
                p=0.0,
                p_low=0.0,
                p_high=0.0,
                window_posts=0,
                window=0.0,
            )
        now = max(now, posts[-1][0])
        exposure_sources = list(posts)
        if reach > listed_reach:
            exposure_sources.append((posts[0][0], reach - listed_reach))
        reactions = [t for t, _ in (posts[1:] if count == len(posts) else posts)]

        window = min(max((now - posts[0][0]) / 2.0, cfg.min_window_seconds), cfg.max_window_seconds)
        recent = [t for t in reactions if now - t <= window]
        if len(recent) < min(cfg.min_count, len(reactions)):
            # Too few posts to estimate from: reach back to the min_count-th newest (weight 0).
            recent = reactions[-cfg.min_count :]
            window = now - recent[0]
        weighted = sum(1.0 - (now - t) / window for t in recent)
        exposure, ahead = self._exposure_and_ahead(exposure_sources, now, window)

        p = weighted / exposure if exposure > 0.0 else 0.0
        tail = (1.0 - cfg.interval) / 2.0
        if p > 0.0:
            scale = p / len(recent)
            p_low = min(p, scale * _gamma_quantile(len(recent), tail))
            p_high = max(p, scale * _gamma_quantile(len(recent) + 1, 1.0 - tail))
        else:  # no weighted posts: p = 0, and seeing none is itself evidence of a low p
            p_low = 0.0
            p_high = -math.log(tail) / exposure if exposure > 0.0 else 0.0
        return self._result(
            n_star=n_star,
            counts_only=counts_only,
            reach=reach,
            count=count,
            ahead=ahead,
            p=p,
            p_low=p_low,
            p_high=p_high,
            window_posts=len(recent),
            window=window,
        )

    def _result(
        self,
        *,
        n_star: float,
        counts_only: bool,
        reach: float,
        count: int,
        ahead: float,
        p: float,
        p_low: float,
        p_high: float,
        window_posts: int,
        window: float,
    ) -> dict[str, Any]:
        cfg = self.config
        cap = cfg.max_multiplier * reach
        count_cap = cfg.max_multiplier * count

        def future(infectiousness: float) -> float:
            """Expected posts still to come (inf when supercritical)."""
            branching = infectiousness * n_star
            return math.inf if branching >= 1.0 else infectiousness * ahead / (1.0 - branching)

        # Each once: reach and count projections share them (a forecast per top story, per report).
        mid, low, high = future(p), future(p_low), future(p_high)
        projected = reach + n_star * mid
        # Followers unknown: nothing is known of the reach, so it is reported as 0 throughout.
        known = 0.0 if counts_only else 1.0
        return {
            "reach_so_far": round(reach * known),
            "count_so_far": count,
            "projected_reach": min(projected, cap) * known,
            "low": min(reach + n_star * low, cap) * known,
            "high": min(reach + n_star * high, cap) * known,
            "projected_count": min(count + mid, count_cap),
            "count_low": min(count + low, count_cap),
            "count_high": min(count + high, count_cap),
            "infectiousness": p,
            "branching": p * n_star,
            "supercritical": p * n_star >= 1.0,
            "capped": projected > cap,
            "window_seconds": window,
            "window_posts": window_posts,
        }

    def _exposure_and_ahead(
        self, sources: list[tuple[float, float]], now: float, window: float
    ) -> tuple[float, float]:
        """(sum of f * windowed exposure, sum of f * mass after) over the (time, followers)
        sources: ``_windowed_exposure`` and ``_mass_after`` inlined, the same float operations
        in the same order (bit-identical), as this loop was a fifth of a sparse stream's
        report time in method calls and attribute lookups."""
        plateau = self.config.kernel_plateau_seconds
        theta = self.config.kernel_theta
        c0 = self._c0
        one_theta = 1.0 + theta
        inv_theta = 1.0 - theta
        power = c0 * plateau ** (1.0 + theta) / (1.0 - theta)
        moment_plateau = c0 * plateau * plateau / 2.0
        plateau_power = plateau ** (1.0 - theta)
        exposure = ahead = 0.0
        for t, f in sources:
            age = now - t
            start = max(0.0, age - window)
            # _mass_after(start) - _mass_after(age)
            m_start = (
                1.0 - c0 * start if start <= plateau else (start / plateau) ** -theta / one_theta
            )
            m_age = 1.0 - c0 * age if age <= plateau else (age / plateau) ** -theta / one_theta
            # _moment(age) - _moment(start)
            if age <= plateau:
                mo_age = c0 * age * age / 2.0
            else:
                mo_age = moment_plateau + power * (age**inv_theta - plateau_power)
            if start <= plateau:
                mo_start = c0 * start * start / 2.0
            else:
                mo_start = moment_plateau + power * (start**inv_theta - plateau_power)
            exposure += f * max(
                0.0, ((mo_age - mo_start) - (age - window) * (m_start - m_age)) / window
            )
            ahead += f * m_age
        return exposure, ahead

    def _mass_after(self, age: float) -> float:
        """Kernel mass after ``age`` seconds: the share of a post's reactions still to come."""
        plateau = self.config.kernel_plateau_seconds
        if age <= plateau:
            return 1.0 - self._c0 * age
        theta = self.config.kernel_theta
        return (age / plateau) ** -theta / (1.0 + theta)

    def _moment(self, age: float) -> float:
        """Integral of u * phi(u) over [0, age]."""
        plateau = self.config.kernel_plateau_seconds
        if age <= plateau:
            return self._c0 * age * age / 2.0
        theta = self.config.kernel_theta
        power = self._c0 * plateau ** (1.0 + theta) / (1.0 - theta)
        return self._c0 * plateau * plateau / 2.0 + power * (
            age ** (1.0 - theta) - plateau ** (1.0 - theta)
        )

    def _windowed_exposure(self, age: float, window: float) -> float:
        """Integral of the triangular weight (1 at now, 0 a window back) times phi for one post.

        With b = age and c = b - window, the weight at kernel time u is (u - c) / window, so the
        integral over u in [max(0, c), b] is (moment difference - c * mass difference) / window.
        """
        start = max(0.0, age - window)
        mass = self._mass_after(start) - self._mass_after(age)
        moment = self._moment(age) - self._moment(start)
        return max(0.0, (moment - (age - window) * mass) / window)
