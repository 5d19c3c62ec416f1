"""The signals state stops growing once its caps are reached (worst case: all new stories)."""

from __future__ import annotations

from pipeline.models.signals import SignalsConfig
from pipeline.tools.footprint import measure


def test_state_is_bounded_by_the_caps() -> None:
    config = SignalsConfig()
    small, large = measure(1, [1_500, 3_000])
    assert large.active_stories == small.active_stories == config.stories.max_active_stories
    assert large.tracked_authors == small.tracked_authors == config.leaders.max_authors
    # Twice the posts, (nearly) the same memory: growth has stopped at the caps.
    assert large.state_json_bytes_per_subject < 1.15 * small.state_json_bytes_per_subject
    assert large.heap_bytes_per_subject < 1.15 * small.heap_bytes_per_subject
