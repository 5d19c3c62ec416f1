"""The bench's latency step: its probes' subject and its load (the measurement itself runs on a
real broker in tests/integration/test_bench.py)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from pipeline.ingest.watchlist import Subject, WatchList
from pipeline.runtime.settings import Settings
from pipeline.tools.bench_latency import LOAD_CHUNK_POSTS, load_stream, probe_handle
from pipeline.tools.bench_posts import SUBJECT_HANDLES


def test_probes_are_about_a_subject_the_load_does_not_mention() -> None:
    watchlist = WatchList.load(Settings.from_env().watchlist_file())
    handle = probe_handle(watchlist)
    (subject,) = watchlist.match(f"@{handle} latency probe")
    assert subject not in {s for h in SUBJECT_HANDLES for s in watchlist.match(f"{h} hello")}


def test_no_probe_subject_is_an_error_that_says_so() -> None:
    loaded = WatchList([Subject(id="united", name="United", handles=("united",))])
    with pytest.raises(ValueError, match="does not mention"):
        probe_handle(loaded)


def test_load_is_more_of_the_stream_later_in_event_time() -> None:
    after = datetime(2024, 3, 8, tzinfo=UTC)
    until = after + timedelta(days=365)
    n = LOAD_CHUNK_POSTS + 500  # into a second chunk
    posts = [orjson.loads(m) for m in itertools.islice(load_stream(after, until, 100.0), n)]
    assert len(posts) == n
    times = [datetime.fromisoformat(p["created_at"]) for p in posts]
    assert after < times[0] and times == sorted(times) and times[-1] < until
    assert len({p["id"] for p in posts}) == n  # new ids, across chunks too
    assert all(p["id"].startswith("load") for p in posts)


def test_load_stops_short_of_the_probes() -> None:
    after = datetime(2024, 3, 8, tzinfo=UTC)
    until = after + timedelta(hours=2)
    posts = [orjson.loads(m) for m in load_stream(after, until, 1.0)]
    assert posts and all(datetime.fromisoformat(p["created_at"]) < until for p in posts)
