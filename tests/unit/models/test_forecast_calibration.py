from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import orjson
import pytest

from pipeline.models.forecast_calibration import (
    FEATURES,
    CalibrationConfig,
    CascadeForecaster,
    ForecastCalibrator,
    features,
)
from pipeline.models.reach_forecast import ReachForecaster
from schemas.post import parse_event_time

REAL = Path(__file__).resolve().parents[2] / "data" / "real"


def twitter15_cascades() -> dict[str, list[tuple[float, float]]]:
    """Real Twitter15 trees (followers unknown): root id -> [(event time, 0)], oldest first."""
    root_of: dict[str, str] = {}
    cascades: dict[str, list[tuple[float, float]]] = {}
    for line in (REAL / "twitter15_small_trees.jsonl").read_bytes().splitlines():
        post = orjson.loads(line)
        parent = post.get("repost_of") or post.get("reply_to")
        root = root_of.get(parent, parent) if parent else post["id"]
        root_of[post["id"]] = root
        ts = parse_event_time(post["created_at"]).timestamp()
        cascades.setdefault(root, []).append((ts, post["author"]["followers"]))
    return {root: sorted(points) for root, points in cascades.items()}


def test_followers_unknown_still_projects_posts_and_no_reach() -> None:
    cascades = twitter15_cascades()
    assert len(cascades) == 8
    forecaster = ReachForecaster()
    grew = 0
    for points in cascades.values():
        start = points[0][0]
        first_hour = [p for p in points if p[0] - start <= 3600]
        result = forecaster.predict_one(first_hour, now=start + 3600)
        assert result["count_so_far"] == len(first_hour)
        assert result["reach_so_far"] == result["projected_reach"] == result["low"] == 0
        assert result["count_low"] <= result["projected_count"] <= result["count_high"]
        assert result["projected_count"] >= len(first_hour)
        grew += result["projected_count"] > len(first_hour)
    assert grew == len(cascades)  # every one still had posts coming in its first hour


def test_raw_until_enough_cascades_completed_then_calibrated() -> None:
    calibrator = ForecastCalibrator(CalibrationConfig(min_samples=5))
    x = features(100, 150, 3600)
    assert calibrator.predict_one(x, 100, (150.0, 120.0, 200.0)) == (150.0, 120.0, 200.0, False)
    for _ in range(4):
        calibrator.learn_one(x, 100, 300)
    assert not calibrator.predict_one(x, 100, (150.0, 120.0, 200.0))[3]
    calibrator.learn_one(x, 100, 300)
    projected, low, high, calibrated = calibrator.predict_one(x, 100, (150.0, 120.0, 200.0))
    assert calibrated
    assert projected == pytest.approx(300, rel=0.01)
    assert low <= projected <= high


def test_interval_only_keeps_the_raw_projection_and_widens_its_interval() -> None:
    """SEISMIC's projection 3x too low, by a factor between 2 and 4.5: the interval-only
    calibration keeps the projection and stretches the interval up to the finals."""
    rng = random.Random(11)
    calibrator = ForecastCalibrator(CalibrationConfig(coverage=0.8, min_samples=20))
    for _ in range(200):
        observed = rng.uniform(100, 1000)
        seismic = 2 * observed
        final = seismic * rng.uniform(2, 4.5)
        calibrator.learn_one(features(observed, seismic, 1800), observed, final)
    raw = (2000.0, 1900.0, 2100.0)
    projected, low, high, calibrated = calibrator.predict_one(
        features(1000, 2000, 1800), 1000, raw, correct_point=False
    )
    assert calibrated and projected == 2000.0
    # The interval always holds the projection: here the finals all lie above it.
    assert low == 2000.0 and high == pytest.approx(2000 * 4.25, rel=0.1)
    corrected = calibrator.predict_one(features(1000, 2000, 1800), 1000, raw)
    assert corrected[0] == pytest.approx(2000 * 3.25, rel=0.1)


def test_learns_growth_that_depends_on_size_and_covers_at_the_wanted_rate() -> None:
    """Cascades whose final size is observed * exp(2.5 - 0.2 log(1 + observed) + noise): the
    calibrator recovers the fit, and fresh cascades fall inside the interval about 80% of the
    time (conformal coverage), not 0% or 100%."""
    rng = random.Random(7)

    def draw() -> tuple[list[float], float, float]:
        observed = math.exp(rng.uniform(math.log(5), math.log(5_000)))
        growth = 2.5 - 0.2 * math.log1p(observed) + rng.gauss(0.0, 0.3)
        return features(observed, observed, 3600), observed, observed * math.exp(max(growth, 0))

    calibrator = ForecastCalibrator(CalibrationConfig(coverage=0.8, max_samples=300, ridge=1.0))
    for _ in range(300):
        calibrator.learn_one(*draw())
    weights = calibrator.state["weights"]
    assert weights[1] == pytest.approx(-0.2, abs=0.05)
    inside = 0
    for _ in range(1000):
        x, observed, final = draw()
        _, low, high, calibrated = calibrator.predict_one(x, observed, (0.0, 0.0, 0.0))
        inside += calibrated and low <= final <= high
    assert 0.74 <= inside / 1000 <= 0.86


def test_recursive_fit_equals_the_batch_ridge_solution_around_the_prior() -> None:
    rng = np.random.default_rng(3)
    calibrator = ForecastCalibrator(CalibrationConfig(ridge=2.0))
    rows, targets = [], []
    for _ in range(40):
        observed = float(rng.uniform(2, 500))
        x = features(observed, observed * float(rng.uniform(1, 5)), float(rng.uniform(60, 7200)))
        final = observed * float(np.exp(rng.uniform(0, 2)))
        calibrator.learn_one(x, observed, final)
        rows.append(x)
        targets.append(math.log(final / observed))
    design, y = np.array(rows), np.array(targets)
    # Ridge around the prior weights w0 (SEISMIC's growth as it is): (X'X + L) w = X'y + L w0.
    prior = np.diag([1e-3] + [2.0] * (FEATURES - 1))
    w0 = np.array([0.0, 0.0, 1.0, 0.0])
    batch = np.linalg.solve(design.T @ design + prior, design.T @ y + prior @ w0)
    assert calibrator.state["weights"] == pytest.approx(batch.tolist(), abs=1e-6)


def test_state_through_json_gives_the_same_forecasts() -> None:
    cascades = list(twitter15_cascades().values())
    config_ = CalibrationConfig(min_samples=3)
    from pipeline.models.forecast_calibration import CascadeForecastConfig

    config = CascadeForecastConfig(calibration=config_)
    model = CascadeForecaster(config)
    for points in cascades[:5]:
        start = points[0][0]
        seen = [p for p in points if p[0] - start <= 3600]
        result = model.predict_one(seen, now=start + 3600, started=start)
        model.learn_one(result["features"], len(points), 0)
    copy = CascadeForecaster(config, orjson.loads(orjson.dumps(model.state)))
    for points in cascades[5:]:
        start = points[0][0]
        seen = [p for p in points if p[0] - start <= 3600]
        a = model.predict_one(seen, now=start + 3600, started=start)
        b = copy.predict_one(seen, now=start + 3600, started=start)
        assert a["calibrated"] and a == b
        assert a["count_low"] <= a["projected_count"] <= a["count_high"]
        assert a["count_low"] >= len(seen)


@pytest.mark.parametrize(
    "bad",
    [{"coverage": 1.0}, {"min_samples": 0}, {"min_samples": 5, "max_samples": 4}, {"ridge": 0}],
)
def test_bad_config_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CalibrationConfig(**bad)  # type: ignore[arg-type]
