"""``crisiswatch bench``'s latency step: produce to alert-ready, with the pipeline idle or under a
steady load.

- **Load**: more of the bench's stream (same subjects and density, later in event time, new ids)
  sent at a steady rate, a share of the rate the layout was just measured at, for as long as
  the probes run, from a process of its own (building and sending it must not hold the
  probes' clocks). ``load_rate=0``: the pipeline is idle.
- **Probes**: single posts about a watch-list subject the load does not mention, one signals
  interval of event time apart, so each closes the report of the probe before it. A probe's
  latency runs from its send (on a producer that is already connected and does not linger) to
  a worker's detector having processed that report: the detector's
  ``crisiswatch_last_event_time_seconds`` (event time only moves forward) reaching the probe's
  time, which is the report's ``as_of``. The gauge is read alone (``?name[]=``), so polling
  every 10 ms costs the worker microseconds, not the milliseconds of a whole exposition.
- Probes are a year of event time after the load, so no load report moves the gauge that far;
  the gap before each probe is random, so probes do not fall in step with the stages' batches.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.kafka import ensure_topics, make_producer, topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess, cpu_seconds, read_metrics
from pipeline.tools.bench_posts import SUBJECT_HANDLES, bench_posts

DETECTOR_EVENT_TIME_METRIC = "crisiswatch_last_event_time_seconds"
DETECTOR_EVENT_TIME = DETECTOR_EVENT_TIME_METRIC + '{stage="detector"}'
POLL_SECONDS = 0.01
#: Longest wait for one probe: one that takes longer counts as this long.
PROBE_TIMEOUT_SECONDS = 30.0
#: The load is sent in slices this often, each the rate's share of the time gone by.
LOAD_TICK_SECONDS = 0.02
LOAD_CHUNK_POSTS = 5_000
LOAD_START_TIMEOUT_SECONDS = 60.0


def probe_handle(watchlist: WatchList) -> str:
    """A handle of a watch-list subject that the bench's load does not mention."""
    loaded = {h.removeprefix("@").casefold() for h in SUBJECT_HANDLES}
    for subject in watchlist.subjects.values():
        if subject.handles and not loaded & {h.casefold() for h in subject.handles}:
            return subject.handles[0]
    raise ValueError(
        "the latency probes need a watch-list subject with a handle that the bench's load "
        f"({', '.join(SUBJECT_HANDLES)}) does not mention"
    )


def load_stream(
    after: datetime, until: datetime, per_subject_minute: float, seed: int = 101
) -> Iterator[bytes]:
    """More of the bench's stream, in event time from ``after`` to ``until`` (new ids)."""
    start = after + timedelta(minutes=1)
    for chunk in itertools.count():
        if start >= until:
            return
        messages = bench_posts(
            LOAD_CHUNK_POSTS,
            seed=seed + chunk,
            per_subject_minute=per_subject_minute,
            start=start,
            prefix=f"load{chunk}-",
        )
        last = _event_time(messages[-1])
        if last >= until:  # the chunk is in time order: only this one needs each post's time
            yield from itertools.takewhile(lambda raw: _event_time(raw) < until, messages)
            return
        yield from messages
        start = last + timedelta(minutes=1)


def _event_time(raw: bytes) -> datetime:
    return datetime.fromisoformat(orjson.loads(raw)["created_at"])


async def send_load(
    settings: Settings, stream: Iterator[bytes], rate: float, started: Any, stop: Any
) -> tuple[int, float]:
    """Send ``stream`` to posts.raw at ``rate`` posts/s from ``started`` being set (once
    connected) until ``stop`` is; return how many went and in how many seconds."""
    topic = topic_names(settings).posts_raw
    producer = make_producer(settings)
    await producer.start()
    sent, began = 0, time.monotonic()
    started.set()
    try:
        while not stop.is_set():
            due = int((time.monotonic() - began) * rate) - sent
            for raw in itertools.islice(stream, max(due, 0)):
                await producer.send(topic, value=raw)
                sent += 1
            await asyncio.sleep(LOAD_TICK_SECONDS)
        return sent, time.monotonic() - began
    finally:
        await producer.stop()


def run_load(
    settings: Settings,
    after: datetime,
    until: datetime,
    per_subject_minute: float,
    rate: float,
    started: Any,
    stop: Any,
    result: Any,
) -> None:
    """The load's own process: building a chunk of it takes up to ~0.2 s of a CPU, which in the
    probes' process would hold their clocks (the tail of the latencies was that, not the
    pipeline). ``result`` gets (posts sent, seconds)."""
    stream = load_stream(after, until, per_subject_minute)
    result[0], result[1] = asyncio.run(send_load(settings, stream, rate, started, stop))


def _detector_event_time(workers: list[WorkerProcess]) -> float:
    latest = float("-inf")
    for w in workers:
        m = read_metrics(
            w.settings.metrics_host, w.settings.metrics_port, names=[DETECTOR_EVENT_TIME_METRIC]
        )
        latest = max(latest, m.get(DETECTOR_EVENT_TIME, latest))
    return latest


async def probe_latencies(
    settings: Settings,
    workers: list[WorkerProcess],
    n: int,
    watchlist: WatchList,
    first_probe: datetime,
    seed: int = 7,
) -> list[float]:
    """Seconds from each of ``n`` probes' send to its report through a detector."""
    handle = probe_handle(watchlist)
    rng = random.Random(seed)
    topic = topic_names(settings).posts_raw
    await ensure_topics(settings, (topic,))
    producer = make_producer(settings, linger_ms=0)
    await producer.start()

    # On the signals stage's interval boundaries, one interval apart: probe i's time is the
    # as_of of the report it closes (its predecessor's interval).
    interval = settings.signals_interval_seconds
    first = datetime.fromtimestamp(-(-first_probe.timestamp() // interval) * interval, tz=UTC)

    def probe(i: int) -> tuple[bytes, float]:
        when = first + timedelta(seconds=i * interval)
        post = {
            "id": f"lat{i}",
            "platform": "twitter",
            "text": f"@{handle} latency probe",
            "author": {"id": f"probe{i}", "handle": "probe", "followers": 1},
            "created_at": when.isoformat(),
        }
        return orjson.dumps(post), when.timestamp()

    latencies = []
    try:
        # Untimed: a subject's first post waits for the next to confirm its time (one post
        # never moves a subject's clock by itself), so the first only anchors.
        await producer.send_and_wait(topic, probe(-1)[0])
        for i in range(n):
            await asyncio.sleep(rng.uniform(0.02, 0.1))
            raw, closes = probe(i)
            sent_at = time.monotonic()
            await producer.send(topic, value=raw)
            while time.monotonic() - sent_at < PROBE_TIMEOUT_SECONDS:
                if await asyncio.to_thread(_detector_event_time, workers) >= closes:
                    break
                await asyncio.sleep(POLL_SECONDS)
            latencies.append(time.monotonic() - sent_at)
    finally:
        await producer.stop()
    return latencies


@dataclass
class LoadedLatencies:
    """What the probes measured, and what the load cost the workers meanwhile."""

    #: Seconds from each probe's send to its report through a detector.
    latencies: list[float]
    #: Posts/s the load was actually sent at (0: idle).
    load_posts_per_second: float
    #: The workers' CPU seconds per post sent (load and probes) while the probes ran.
    cpu_seconds_per_post: float


async def latencies_under_load(
    settings: Settings,
    workers: list[WorkerProcess],
    n: int,
    watchlist: WatchList,
    load_after: datetime,
    per_subject_minute: float,
    load_rate: float,
) -> LoadedLatencies:
    """``n`` probes' latencies with a load of ``load_rate`` posts/s on (0: idle)."""
    first_probe = load_after + timedelta(days=365)
    if load_rate <= 0:
        cpu_before = cpu_seconds(workers)
        latencies = await probe_latencies(settings, workers, n, watchlist, first_probe)
        return LoadedLatencies(latencies, 0.0, (cpu_seconds(workers) - cpu_before) / n)
    spawn = multiprocessing.get_context("spawn")
    started, stop, result = spawn.Event(), spawn.Event(), spawn.Array("d", 2)
    stream_args = (settings, load_after, first_probe, per_subject_minute, load_rate)
    load = spawn.Process(
        target=run_load, args=(*stream_args, started, stop, result), name="bench-load", daemon=True
    )
    load.start()
    try:
        if not await asyncio.to_thread(started.wait, LOAD_START_TIMEOUT_SECONDS):
            raise RuntimeError(f"the bench's load did not start (exit code {load.exitcode})")
        cpu_before = cpu_seconds(workers)
        latencies = await probe_latencies(settings, workers, n, watchlist, first_probe)
        stop.set()
        cpu = cpu_seconds(workers) - cpu_before
    finally:
        stop.set()
        await asyncio.to_thread(load.join, LOAD_START_TIMEOUT_SECONDS)
        if load.is_alive():
            load.kill()
    if load.exitcode != 0:
        raise RuntimeError(f"the bench's load failed (exit code {load.exitcode})")
    sent, seconds = result[:]
    return LoadedLatencies(latencies, sent / seconds, cpu / (sent + n))
