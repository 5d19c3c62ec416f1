"""``crisiswatch forecast FILE --observe SECONDS``: cascade forecasts over a post stream.

Posts are grouped into cascades by their links (a post's root is its parent's root; a parent
missing from the stream is the root of what answers it; a post without a parent is its own
root). At each root's time + ``observe`` the cascade is forecast from its posts so far with the
pipeline's model (``CascadeForecaster``: SEISMIC, calibrated on completed cascades).

Two ways to run it, both honest about what the calibration has seen:

- online (default): the stream is replayed in event-time order; a cascade counts as complete
  once it has had no post for ``complete_after`` seconds, and the forecaster learns from it
  then (its size at that point as final). Every forecast is made before the cascade it
  forecasts is learnt (prequential), as in the pipeline;
- ``folds`` > 1 (cross-fitting): cascades are split into folds by a seeded hash of the root id;
  each fold is forecast by a forecaster calibrated on the other folds' final sizes only.

``score`` compares forecasts with the cascades' sizes at the end of the stream.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.models.forecast_calibration import CascadeForecastConfig, CascadeForecaster
from pipeline.tools.post_stream import parent_of
from schemas.post import parse_event_time

DEFAULT_COMPLETE_AFTER = 7 * 86_400.0


@dataclass(slots=True)
class Cascade:
    root: str
    start: float
    points: list[tuple[float, float]] = field(default_factory=list)  # observed window only
    posts: int = 0
    reach: float = 0.0
    last: float = 0.0
    forecast: dict[str, Any] | None = None
    learnt: bool = False


def _cascades(posts: Sequence[dict[str, Any]]) -> Iterator[tuple[float, Cascade, dict[str, Any]]]:
    """(event time, its cascade, post) for each post in order; a cascade's start is its first
    post's time (a root that arrives after its answers starts the cascade at its own time)."""
    root_of: dict[str, str] = {}
    cascades: dict[str, Cascade] = {}
    for post in posts:
        ts = parse_event_time(post["created_at"]).timestamp()
        post_id, parent = str(post["id"]), parent_of(post)
        root = post_id if parent is None else root_of.get(parent, parent)
        root_of[post_id] = root
        cascade = cascades.get(root)
        if cascade is None:
            cascade = cascades[root] = Cascade(root, ts)
        cascade.start = min(cascade.start, ts)
        yield ts, cascade, post


def _add(cascade: Cascade, ts: float, post: dict[str, Any], observe: float) -> None:
    followers = float(post["author"].get("followers") or 0)
    cascade.posts += 1
    cascade.reach += followers
    cascade.last = max(cascade.last, ts)
    if ts - cascade.start <= observe:
        cascade.points.append((ts, followers))


def _predict(model: CascadeForecaster, cascade: Cascade, observe: float) -> dict[str, Any]:
    points = cascade.points
    return model.predict_one(points, now=cascade.start + observe, started=cascade.start)


def _record(cascade: Cascade, forecast: dict[str, Any]) -> dict[str, Any]:
    return {
        "root": cascade.root,
        "observed_posts": forecast["count_so_far"],
        "projected_posts": round(forecast["projected_count"], 1),
        "interval": [round(forecast["count_low"], 1), round(forecast["count_high"], 1)],
        "observed_reach": forecast["reach_so_far"],
        "projected_reach": round(forecast["projected_reach"]),
        "reach_interval": [round(forecast["low"]), round(forecast["high"])],
        "calibrated": forecast["calibrated"],
    }


def forecast_online(
    posts: Sequence[dict[str, Any]],
    observe: float,
    complete_after: float = DEFAULT_COMPLETE_AFTER,
    config: CascadeForecastConfig | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Cascade]]:
    """Forecasts in the order they are made, and every cascade with its size at the end."""
    model = CascadeForecaster(config)
    cascades: dict[str, Cascade] = {}
    # (due time, 0 = learn a completed cascade / 1 = forecast, root): learning first at a tie.
    due: list[tuple[float, int, str]] = []
    records: list[dict[str, Any]] = []

    def run_due(until: float) -> None:
        while due and due[0][0] < until:
            when, kind, root = heapq.heappop(due)
            cascade = cascades[root]
            if kind == 1:
                cascade.forecast = _predict(model, cascade, observe)
                records.append(_record(cascade, cascade.forecast))
            elif cascade.last + complete_after != when:  # it had posts since: not yet
                heapq.heappush(due, (cascade.last + complete_after, 0, root))
            elif cascade.forecast is not None and not cascade.learnt:
                model.learn_one(cascade.forecast["features"], cascade.posts, cascade.reach)
                cascade.learnt = True

    for ts, cascade, post in _cascades(posts):
        run_due(ts)
        if cascade.root not in cascades:
            cascades[cascade.root] = cascade
            heapq.heappush(due, (cascade.start + observe, 1, cascade.root))
            heapq.heappush(due, (ts + complete_after, 0, cascade.root))
        _add(cascade, ts, post, observe)
    run_due(math.inf)
    return records, cascades


def fold_of(root: str, folds: int, seed: int) -> int:
    return (
        int.from_bytes(hashlib.blake2b(f"{seed}:{root}".encode(), digest_size=8).digest()) % folds
    )


def forecast_cross_fit(
    posts: Sequence[dict[str, Any]],
    observe: float,
    folds: int,
    seed: int = 0,
    config: CascadeForecastConfig | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Cascade]]:
    """Each fold forecast by a forecaster calibrated on the other folds only (by root id)."""
    cascades: dict[str, Cascade] = {}
    for ts, cascade, post in _cascades(posts):
        cascades.setdefault(cascade.root, cascade)
        _add(cascade, ts, post, observe)
    raw = CascadeForecaster(config)
    features = {root: _predict(raw, c, observe)["features"] for root, c in cascades.items()}
    records = []
    for k in range(folds):
        model = CascadeForecaster(config)
        for root, cascade in cascades.items():
            if fold_of(root, folds, seed) != k:
                model.learn_one(features[root], cascade.posts, cascade.reach)
        for root, cascade in cascades.items():
            if fold_of(root, folds, seed) == k:
                records.append(_record(cascade, _predict(model, cascade, observe)))
    records.sort(key=lambda r: (cascades[r["root"]].start, r["root"]))
    return records, cascades


def score(records: Sequence[dict[str, Any]], cascades: dict[str, Cascade]) -> dict[str, Any]:
    """Median relative error |projected - final| / final of the posts (and of the reach where
    followers are known), the share of finals inside the interval, and the naive baseline
    (final = observed) for the same cascades."""
    rel, naive, inside, rel_reach, inside_reach = [], [], [], [], []
    for record in records:
        cascade = cascades[record["root"]]
        final = cascade.posts
        rel.append(abs(record["projected_posts"] - final) / final)
        naive.append(abs(record["observed_posts"] - final) / final)
        low, high = record["interval"]
        inside.append(low <= final <= high)
        if cascade.reach > 0 and record["observed_reach"] > 0:
            rel_reach.append(abs(record["projected_reach"] - cascade.reach) / cascade.reach)
            low, high = record["reach_interval"]
            inside_reach.append(low <= cascade.reach <= high)

    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    def share(values: list[bool]) -> float | None:
        return sum(values) / len(values) if values else None

    return {
        "cascades": len(records),
        "calibrated": sum(1 for r in records if r["calibrated"]),
        "median_relative_error": median(rel),
        "naive_median_relative_error": median(naive),
        "interval_coverage": share(inside),
        "reach_cascades": len(rel_reach),
        "reach_median_relative_error": median(rel_reach),
        "reach_interval_coverage": share(inside_reach),
    }
