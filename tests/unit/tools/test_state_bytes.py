"""The model-level table-state measure counts what the agents write: every part whole before,
only the changes now; small batches are where writing by change pays most."""

from __future__ import annotations

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.settings import Settings
from pipeline.tools.bench_posts import bench_posts
from pipeline.tools.state_bytes import state_bytes


def test_changes_cost_less_than_whole_parts_and_far_less_in_small_batches() -> None:
    messages = bench_posts(900, per_subject_minute=5.0)
    watchlist = WatchList.load(Settings.from_env().watchlist_file())
    small = state_bytes(messages, watchlist, batch=10)
    large = state_bytes(messages, watchlist, batch=150)
    assert small.posts == large.posts == 900
    for run in (small, large):
        assert 0 < run.signals_changes < run.signals_whole
        assert 0 < run.crisis_changes < run.crisis_whole
    # Whole parts cost per batch whatever its size; changes cost per change.
    assert small.signals_whole > 5 * large.signals_whole
    assert small.per_post()["changes"] * 4 < small.per_post()["whole"]
