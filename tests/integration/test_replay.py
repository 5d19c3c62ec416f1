"""A replay gives the same alerts at any speed and from any source, and leaves the live run
alone: the same stream from a file as fast as possible, and from a topic at a speed factor,
yields exactly the alerts of the in-process reference (same ids, states and event times)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.settings import Settings
from pipeline.tools.offline import run_offline
from pipeline.tools.produce import produce_raw
from pipeline.tools.replay import run_replay
from pipeline.tools.scenario import crisis_scenario, encoded
from pipeline.tools.sources import event_time_key

from .helpers import read_topic

pytestmark = pytest.mark.integration


async def test_replay_fast_paced_or_from_a_topic_gives_the_same_alerts(
    settings: Settings, tmp_path: Path
) -> None:
    posts, _ = crisis_scenario(others=("@Delta",))
    messages = encoded(posts)
    expected = run_offline(messages, WatchList.load(settings.watchlist_file())).alerts
    assert {a.state for a in expected} == {"opened", "escalated", "resolved"}

    source = tmp_path / "stream.jsonl"
    source.write_bytes(b"\n".join(reversed(messages)) + b"\n")  # out of order: replay sorts
    fast = await run_replay(settings, str(source), speed=0.0, run_id="fast")

    # The "live" posts.raw holds the stream; no live worker runs. Replay it at 30,000x (the 42
    # hours of event time in about 5 s of wall-clock time).
    live_raw = settings.topic_prefix + "posts.raw"
    await produce_raw(settings, messages)
    paced = await run_replay(settings, f"topic:{live_raw}", speed=30_000.0, run_id="paced")

    want = [a.model_dump() for a in expected]
    assert [a.model_dump() for a in fast.alerts] == want
    assert [a.model_dump() for a in paced.alerts] == want
    assert fast.sent == paced.sent == len(messages)
    span = event_time_key(messages[-1]) - event_time_key(messages[0])
    assert paced.seconds > span / 30_000 > 4.0  # the pacing was honoured

    # The replays had topics of their own: nothing was routed into the live posts topic.
    assert await read_topic(settings, settings.topic_prefix + "posts", expected=0, timeout=2) == []
