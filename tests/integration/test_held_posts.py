"""The held-posts gauge across a restart (issue 17: it drifted below zero).

A post far ahead of its subject's event time is held until the subject's next post decides it
(pipeline/models/signals.py). The hold is part of the subject's table state, so a restarted
worker reads it back; when the next post decides it there, the gauge used to go down by one in
a process that never counted it up: -1 for good."""

from __future__ import annotations

import pytest

from pipeline.runtime.settings import Settings
from pipeline.tools.produce import produce_raw

from .conftest import StartWorker
from .helpers import metric, post, wait_for

pytestmark = pytest.mark.integration

DEAD_FUTURE = 'crisiswatch_dead_lettered_total{reason="future_timestamp",stage="signals"}'


async def test_a_hold_read_back_after_a_restart_is_counted_and_decided(
    settings: Settings, start_worker: StartWorker
) -> None:
    first = await start_worker(settings)
    # Two posts a minute apart, then one five hours ahead of them: held.
    await produce_raw(settings, [post(1), post(2, minutes=1), post(3, minutes=300)])
    held = "crisiswatch_signals_held_posts"
    await wait_for(lambda: metric(first, held) == 1, 60.0, "the far-ahead post to be held")
    assert first.stop() == 0  # a clean stop: the hold is in the table's changelog

    second = await start_worker(settings)
    await produce_raw(settings, [post(4, minutes=2)])  # the stream goes on from its own time
    await wait_for(lambda: metric(second, DEAD_FUTURE) == 1, 60.0, "the held post rejected")
    assert metric(second, held) == 0
