"""``crisiswatch bench`` measures what it says on a small run: every post through every agent,
a raw-consumer baseline, latencies and memory. Figures are not asserted against targets (that is
the command's job, not a test's), only that they are the measurements of this run."""

from __future__ import annotations

import os
from datetime import datetime

import orjson
import pytest

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.settings import Settings
from pipeline.tools.bench import models_only_rate
from pipeline.tools.bench_posts import SUBJECT_HANDLES, bench_posts
from pipeline.tools.bench_run import results_table, run_bench
from pipeline.tools.offline import run_offline


@pytest.mark.parametrize("per_minute", [1.0, 100.0])
def test_bench_posts_are_n_ordered_posts_at_the_asked_density(per_minute: float) -> None:
    posts = [orjson.loads(m) for m in bench_posts(3_000, per_subject_minute=per_minute)]
    assert len(posts) == 3_000
    times = [datetime.fromisoformat(p["created_at"]) for p in posts]
    assert times == sorted(times)
    minutes = (times[-1] - times[0]).total_seconds() / 60
    density = len(posts) / len(SUBJECT_HANDLES) / minutes
    assert 0.3 * per_minute < density < 1.5 * per_minute  # the daily cycle averages below 1
    assert bench_posts(3_000, per_subject_minute=per_minute) == bench_posts(
        3_000, per_subject_minute=per_minute
    )


def test_models_only_rate_times_the_offline_run() -> None:
    messages = bench_posts(1_000, per_subject_minute=1.0)
    watchlist = WatchList.load(Settings.from_env().watchlist_file())
    rate, reports = models_only_rate(messages, watchlist)
    expected = run_offline(messages, watchlist)
    assert reports == expected.reports > 500  # sparse: nearly a report per post
    assert rate > 0


@pytest.mark.integration
async def test_bench_runs_every_post_through_the_pipeline(settings: Settings) -> None:
    (result,) = await run_bench(settings, 400, [1], [5.0], latency_posts=3, timeout=120.0)
    assert result.posts == 400 and result.workers == 1
    assert result.posts_per_subject_minute == 5.0
    assert 0 < result.seconds < 120
    assert result.posts_per_second == pytest.approx(400 / result.seconds)
    assert result.raw_consume_per_second > 0
    assert result.ratio_to_raw == pytest.approx(
        result.posts_per_second / result.raw_consume_per_second
    )
    assert 0 < result.latency_p50_seconds <= result.latency_p99_seconds < 30
    # Timed under a load of a quarter of the rate just measured (the default), which flowed.
    assert 0 < result.latency_load_posts_per_second < result.posts_per_second
    assert result.latency_cpu_seconds_per_post > 0  # the workers' CPU while the probes ran
    # Idle, a worker uses a little of a core: not none (it polls), not all of it (it spun so on
    # noida-db's empty fetches before pipeline/runtime/empty_fetch.py).
    assert 0 < result.idle_cpu_share_per_worker < 0.5
    assert result.peak_rss_bytes_per_worker > 50 * 2**20  # a Python worker with its models
    # CPU time was read from the worker's process: some, and no more than all cores had in the
    # window it was read over (which opens before the first post and so outlasts ``seconds``).
    assert result.cpu_window_seconds >= result.seconds
    cores = os.cpu_count() or 1
    assert 0 < result.cpu_seconds_per_post * 400 <= result.cpu_window_seconds * cores
    # The same stream through the models alone, timed in the same run.
    assert result.models_only_per_second > 0
    assert len(results_table([result]).columns) == 15
