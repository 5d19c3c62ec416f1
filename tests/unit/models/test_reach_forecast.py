from __future__ import annotations

import random

import pytest

from pipeline.models import reach_forecast
from pipeline.models.reach_forecast import ForecastConfig, ReachForecaster

DAY = 86_400.0

STORY = [(i * 90.0, 1_000) for i in range(20)]  # 20 posts, 30 minutes, 1,000 followers each


def test_dead_story_projects_its_reach_so_far() -> None:
    result = ReachForecaster().predict_one(STORY, now=STORY[-1][0] + 3 * DAY)
    assert (result["reach_so_far"], result["count_so_far"]) == (20_000, 20)
    assert result["projected_reach"] == pytest.approx(20_000, rel=1e-3)
    assert result["low"] <= result["projected_reach"] <= result["high"]
    assert result["high"] - result["low"] < 0.001 * 20_000
    assert not result["supercritical"] and not result["capped"]


def test_active_story_projects_more_and_more_with_recent_activity() -> None:
    forecaster = ReachForecaster()
    active = forecaster.predict_one(STORY, now=STORY[-1][0])
    assert active["projected_reach"] > 1.1 * 20_000
    assert 20_000 <= active["low"] <= active["projected_reach"] <= active["high"]
    assert 0.0 < active["branching"] < 1.0

    busier = STORY + [(STORY[-1][0] + 20.0 * k, 1_000) for k in range(1, 4)]
    more = forecaster.predict_one(busier, now=busier[-1][0])
    assert more["projected_reach"] - more["reach_so_far"] > (
        active["projected_reach"] - active["reach_so_far"]
    )
    # The same story an hour later with nothing new: less to come.
    later = forecaster.predict_one(STORY, now=STORY[-1][0] + 3600)
    assert 20_000 < later["projected_reach"] < active["projected_reach"]


def test_supercritical_story_is_capped() -> None:
    config = ForecastConfig(max_multiplier=10.0)
    storm = [(i * 6.0, 10) for i in range(50)]  # 50 posts in 5 minutes, small accounts
    result = ReachForecaster(config).predict_one(storm, now=storm[-1][0])
    assert result["supercritical"] and result["capped"]
    assert result["branching"] >= 1.0
    assert result["projected_reach"] == result["high"] == 10.0 * 500


def test_truncated_points_use_the_totals() -> None:
    newest = [[t, f] for t, f in STORY[-5:]]  # as a JSON table gives them back
    result = ReachForecaster().predict_one(
        newest, now=STORY[-1][0] + 600, reach_so_far=20_000, count_so_far=20
    )
    assert (result["reach_so_far"], result["count_so_far"]) == (20_000, 20)
    assert 20_000 <= result["low"] <= result["projected_reach"] <= result["high"]


def test_no_points_and_a_lone_post() -> None:
    forecaster = ReachForecaster()
    nothing = forecaster.predict_one([], now=0.0)
    assert (nothing["projected_reach"], nothing["high"]) == (0.0, 0.0)
    lone = forecaster.predict_one([(0.0, 500)], now=0.0)
    assert (lone["projected_reach"], lone["branching"]) == (500.0, 0.0)


def test_windowed_exposure_matches_numeric_integration() -> None:
    forecaster = ReachForecaster()
    plateau = forecaster.config.kernel_plateau_seconds
    assert forecaster._mass_after(0.0) == 1.0
    assert forecaster._mass_after(plateau) == pytest.approx(1 / (1 + 0.242))

    def phi(u: float) -> float:
        return forecaster._c0 * (1.0 if u <= plateau else (u / plateau) ** -1.242)

    for age, window in ((100.0, 300.0), (1_000.0, 300.0), (1_000.0, 7_200.0), (DAY, 7_200.0)):
        start = max(0.0, age - window)
        steps = 20_000
        width = (age - start) / steps
        numeric = sum(
            (1 - (age - u) / window) * phi(u) * width
            for u in (start + (k + 0.5) * width for k in range(steps))
        )
        assert forecaster._windowed_exposure(age, window) == pytest.approx(numeric, rel=1e-4)


def test_the_inlined_exposure_loop_is_bit_identical_to_the_kernel_functions() -> None:
    # predict_one sums the kernel inline (speed); _windowed_exposure and _mass_after are its
    # readable definition: the two must agree to the last bit, or reports would change.
    forecaster = ReachForecaster()
    rng = random.Random(5)
    for _ in range(300):
        now = rng.uniform(0.0, 3 * DAY)
        window = rng.choice((300.0, 301.5, 7_200.0, rng.uniform(300.0, 7_200.0)))
        sources = [
            (
                now - rng.choice((0.0, 300.0, rng.uniform(0.0, 2 * DAY))),
                float(rng.randint(0, 10**6)),
            )
            for _ in range(rng.randint(1, 40))
        ]
        exposure = sum(f * forecaster._windowed_exposure(now - t, window) for t, f in sources)
        ahead = sum(f * forecaster._mass_after(now - t) for t, f in sources)
        assert forecaster._exposure_and_ahead(sources, now, window) == (exposure, ahead)


def test_poisson_quantiles_match_chi_square_tables() -> None:
    # chi-square quantiles (2 * Gamma): 2 dof at 5%/95%, 12 dof at 95%, 100 dof at 5%.
    assert 2 * reach_forecast._gamma_quantile(1, 0.05) == pytest.approx(0.1026, abs=1e-4)
    assert 2 * reach_forecast._gamma_quantile(1, 0.95) == pytest.approx(5.9915, abs=1e-4)
    assert 2 * reach_forecast._gamma_quantile(6, 0.95) == pytest.approx(21.0261, abs=1e-4)
    assert 2 * reach_forecast._gamma_quantile(50, 0.05) == pytest.approx(77.9295, abs=1e-4)
    assert 2 * reach_forecast._gamma_quantile(200, 0.05) == pytest.approx(354.641, rel=1e-3)
