"""Scale-out: two workers on one stream share its partitions, and together raise exactly the
alerts one process raises (the in-process reference)."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.broker import free_port
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess
from pipeline.tools.alert_feed import follow_alerts
from pipeline.tools.offline import run_offline
from pipeline.tools.produce import produce_raw
from pipeline.tools.scenario import crisis_scenario, encoded
from schemas import Alert

from .conftest import StartWorker
from .helpers import metric, wait_for

pytestmark = pytest.mark.integration


async def test_two_workers_share_the_partitions_and_raise_the_same_alerts(
    settings: Settings, start_worker: StartWorker
) -> None:
    assert settings.partitions == 2  # one partition of each topic for each worker
    posts, _ = crisis_scenario(others=("@Delta", "@SouthwestAir"))
    messages = encoded(posts)
    expected = run_offline(messages, WatchList.load(settings.watchlist_file())).alerts
    workers: list[WorkerProcess] = []
    for _ in range(2):
        workers.append(await start_worker(settings.replace(metrics_port=free_port())))
    # Both in the group before the stream starts (Tansu holds each join for seconds).
    await asyncio.sleep(8.0 if settings.is_tansu else 4.0)
    await produce_raw(settings, messages)

    alerts: list[Alert] = []
    await follow_alerts(settings, alerts.append, idle_timeout=90.0, limit=len(expected))
    assert [a.model_dump() for a in alerts] == [a.model_dump() for a in expected]

    def routed() -> float:
        return sum(metric(w, "crisiswatch_subject_posts_total") for w in workers)

    def through_signals() -> list[float]:
        return [metric(w, "crisiswatch_signals_posts_total") for w in workers]

    await wait_for(lambda: sum(through_signals()) >= routed() == len(messages), 60.0, "all posts")
    # Both did part of the work: the subjects' partitions are split between them.
    assert all(n > 0 for n in through_signals()), through_signals()
