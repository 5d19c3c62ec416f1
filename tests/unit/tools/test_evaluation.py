"""Scoring detection against ground truth: detected, missed and false alerts, delay, origin
correctness and the impact estimate's error, on the scenario's real alerts."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.settings import Settings
from pipeline.tools.evaluate_run import run_evaluation
from pipeline.tools.evaluation import evaluate
from pipeline.tools.offline import run_offline
from pipeline.tools.scenario import crisis_scenario, encoded
from schemas import Alert
from schemas.truth import CrisisTruth


@pytest.fixture(scope="module")
def run() -> tuple[list[Alert], CrisisTruth]:
    posts, truth = crisis_scenario()
    alerts = run_offline(encoded(posts), WatchList.load(Settings().watchlist_file())).alerts
    return alerts, truth


def test_a_detected_crisis_with_its_delay_origin_and_reach(
    run: tuple[list[Alert], CrisisTruth],
) -> None:
    alerts, truth = run
    result = evaluate(alerts, [truth], subjects=1, days=42 / 24)
    assert (result.crises, result.detected, result.missed, result.false_alerts) == (1, 1, 0, 0)
    opened = alerts[0]
    assert result.delay_median_seconds == (opened.detected_at - truth.onset).total_seconds()
    assert 0 < result.delay_median_seconds <= 600
    assert result.origin_first_post == result.origin_platform == result.origin_initiator == 1.0
    expected = abs(math.log10(opened.impact.projected_reach / truth.final_reach))
    assert result.reach_log_error_at_open == pytest.approx(expected)
    assert result.outcomes[0].alert_id == opened.alert_id


def test_missed_crises_and_false_alerts_are_counted(
    run: tuple[list[Alert], CrisisTruth],
) -> None:
    alerts, truth = run
    # A crisis of another subject that no alert covers, and an alert of a subject without one.
    elsewhere = truth.model_copy(update={"crisis_id": "other", "subject": "delta"})
    stray = [a.model_copy(update={"alert_id": "f" * 20, "subject": "jetblue"}) for a in alerts]
    late = truth.model_copy(
        update={
            "crisis_id": "later",
            "onset": truth.onset + timedelta(days=3),
            "end": truth.end + timedelta(days=3),
        }
    )
    result = evaluate([*alerts, *stray], [truth, elsewhere, late], subjects=3, days=2.0)
    assert (result.detected, result.missed, result.false_alerts) == (1, 2, 1)
    assert result.false_alert_ids == ["f" * 20]
    assert result.false_alerts_per_subject_day == pytest.approx(1 / 6)
    assert [o.detected for o in result.outcomes] == [True, False, False]


async def test_a_public_set_in_post_and_truth_format_is_evaluated_stream_by_stream(
    tmp_path: Path,
) -> None:
    """`crisiswatch evaluate --posts A --posts B ... --truth T --watchlist W --offline` on the
    CrisisLexT26 excerpts (tests/data/real): each file a stream of its own, its own subject."""
    real = Path(__file__).parents[2] / "data" / "real" / "crisislex_t26"
    streams = [
        real / "2012_Costa_Rica_earthquake.jsonl",
        real / "2013_LA_airport_shootings.jsonl",
        real / "2012_Venezuela_refinery.jsonl",
        real / "2013_NY_train_crash.jsonl",
    ]
    result = await run_evaluation(
        Settings().replace(state_dir=tmp_path),
        streams,
        real / "crisis_truth.jsonl",
        offline=True,
        console=Console(quiet=True),
        watchlist_path=real / "watchlist.toml",
    )
    assert (result.crises, result.detected, result.false_alerts) == (4, 4, 0)
    assert result.subjects == 4
    # Subject-days are summed over the streams: 1.36 days of Costa Rica, 0.36 of LA, 2.55 of
    # Venezuela, 0.07 of NY (each from the stream's first routed post to its last).
    assert result.subjects * result.days == pytest.approx(4.34, abs=0.01)
    assert all(o.delay_seconds is not None and o.delay_seconds > 0 for o in result.outcomes)
    assert result.origin_platform == 1.0
    assert result.reach_interval_coverage is None  # followers unknown: nothing to cover
