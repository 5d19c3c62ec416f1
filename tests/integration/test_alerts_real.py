"""A real crisis through a real broker: the alerts equal the in-process reference's.

The stream is a CrisisLexT26 excerpt (tests/data/real: the Costa Rica earthquake of 2012, a day
and a half of scattered posts, then the quake; one platform, no follower counts), so what the
detector does on a feed that cannot show spread, leaders or reach holds through Kafka too."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.settings import Settings
from pipeline.tools.alert_feed import follow_alerts
from pipeline.tools.evaluate_run import read_truth
from pipeline.tools.offline import run_offline
from pipeline.tools.produce import produce_raw
from pipeline.tools.sources import read_posts
from schemas import Alert

from .conftest import StartWorker

pytestmark = pytest.mark.integration

REAL = Path(__file__).parents[1] / "data" / "real" / "crisislex_t26"


async def test_a_real_single_platform_crisis_alerts_through_kafka_as_in_process(
    settings: Settings, start_worker: StartWorker
) -> None:
    settings = settings.replace(watchlist_path=REAL / "watchlist.toml")
    messages = list(read_posts(REAL / "2012_Costa_Rica_earthquake.jsonl", sort_by_time=True))
    expected = run_offline(messages, WatchList.load(REAL / "watchlist.toml")).alerts
    truth = next(t for t in read_truth(REAL / "crisis_truth.jsonl") if "Costa_Rica" in t.crisis_id)
    assert expected and expected[0].state == "opened" and expected[0].detected_at > truth.onset
    await start_worker(settings)
    assert await produce_raw(settings, messages) == len(messages)
    alerts: list[Alert] = []
    await follow_alerts(settings, alerts.append, idle_timeout=90.0, limit=len(expected))
    assert [a.model_dump() for a in alerts] == [a.model_dump() for a in expected]
    assert {a.subject for a in alerts} == {"2012-costa-rica-earthquake"}
