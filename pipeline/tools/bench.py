"""``crisiswatch bench``: throughput, latency and memory of the whole pipeline, on a real broker.

For each layout (1, 2, 4 partitions with as many workers), on fresh topics:

1. the raw baseline: the same N posts consumed and decoded (orjson) by one plain aiokafka
   consumer, the most any Kafka client in Python gets out of this broker here;
2. sustained throughput: with the workers up and their group settled, N posts are sent to
   posts.raw as fast as the producer goes; the rate is N over the time from the first post
   ingested to the last report through the detector (every agent on: ingest, signals,
   detector, feedback);
3. end-to-end latency, produce to alert-ready, of single probe posts each closing a report,
   while more of the same stream flows at a share of the rate step 2 measured (0: idle):
   pipeline/tools/bench_latency.py;
4. peak memory: the workers' peak resident set (VmHWM), and the workers' CPU time per post of
   step 2 (user + system, from /proc): the cost of a post whatever else the machine runs, where
   the rate depends on the cores left to the workers; and, before step 2, the share of a core
   each worker uses with nothing to do;
5. table state: the bytes the signals and crisis state changelogs carry per post of step 2
   (read back from the topics, pipeline/tools/changelog_bytes.py).

Not timed tests: a command whose figures go in the README with the command that made them.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.broker import free_port
from pipeline.runtime.kafka import ensure_topics, make_consumer, topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess, cpu_seconds, read_metrics
from pipeline.tools.bench_latency import latencies_under_load
from pipeline.tools.changelog_bytes import TABLES, changelog_bytes
from pipeline.tools.offline import run_offline
from pipeline.tools.produce import produce_raw, produce_to

GROUP_SETTLE_SECONDS = 8.0


@dataclass
class LayoutResult:
    partitions: int
    workers: int
    posts: int
    posts_per_subject_minute: float
    seconds: float
    posts_per_second: float
    raw_consume_per_second: float
    ratio_to_raw: float
    latency_p50_seconds: float
    latency_p99_seconds: float
    #: Posts/s of the load sent while the latency probes ran (0: measured idle).
    latency_load_posts_per_second: float
    peak_rss_bytes_per_worker: int
    #: CPU seconds (user + system, all workers) per post of the throughput run.
    cpu_seconds_per_post: float = 0.0
    #: Wall seconds over which that CPU time was read: from before the load is sent to the
    #: end of the run. Longer than ``seconds``, which starts at the first post seen by a poll.
    cpu_window_seconds: float = 0.0
    #: The same stream through the models alone, in one process (models_only_rate).
    models_only_per_second: float = 0.0
    #: Bytes (keys and values) on the signals and crisis state changelogs per post sent, read
    #: back after the throughput run (pipeline/tools/changelog_bytes.py).
    changelog_bytes_per_post: float = 0.0
    changelog_records: int = 0
    #: Changelog bytes per table (its name: bytes).
    changelog_bytes_by_table: dict[str, int] = field(default_factory=dict)
    #: Share of a core each worker used with nothing to do (before the throughput run).
    idle_cpu_share_per_worker: float = 0.0
    #: CPU seconds (all workers) per post sent while the latency probes ran under the load:
    #: the cost of a post when it comes in small bursts, not a full load.
    latency_cpu_seconds_per_post: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def models_only_rate(messages: list[bytes], watchlist: WatchList) -> tuple[float, int]:
    """(posts/s, signal reports) of the model code alone on ``messages``: the same models in
    one process without any broker (pipeline/tools/offline.py), the ceiling of a worker's rate."""
    started = time.perf_counter()
    run = run_offline(messages, watchlist)
    return len(messages) / (time.perf_counter() - started), run.reports


async def raw_consume_rate(settings: Settings, messages: list[bytes]) -> float:
    """Posts/s of one aiokafka consumer reading and decoding ``messages`` from a fresh topic."""
    topic = f"{settings.topic_prefix}raw-baseline"
    await produce_to(settings, topic, messages)
    consumer = make_consumer(
        settings, topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen, started = 0, time.monotonic()
    try:
        while seen < len(messages) and time.monotonic() - started < 120:
            batches = await consumer.getmany(timeout_ms=500, max_records=5_000)
            for records in batches.values():
                for record in records:
                    orjson.loads(record.value)
                seen += sum(len(r) for r in batches.values())
    finally:
        await consumer.stop()
    return seen / (time.monotonic() - started)


def _peak_rss(worker: WorkerProcess) -> int:
    pid = worker.process.pid if worker.process else None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _totals(workers: list[WorkerProcess]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for w in workers:
        for name, value in read_metrics(w.settings.metrics_host, w.settings.metrics_port).items():
            if "{" not in name:
                totals[name] = totals.get(name, 0.0) + value
    return totals


def _settled(m: dict[str, float], sent: int) -> bool:
    ingested = m.get("crisiswatch_posts_processed_total", 0) + m.get(
        "crisiswatch_posts_dead_lettered_total", 0
    )
    return (
        ingested >= sent
        and m.get("crisiswatch_signals_posts_total", 0)
        >= m.get("crisiswatch_subject_posts_total", 0)
        and m.get("crisiswatch_detector_reports_total", 0)
        >= m.get("crisiswatch_signals_emitted_total", 0)
    )


async def _throughput(workers: list[WorkerProcess], sent: int, timeout: float) -> float:
    """Seconds from the first post ingested to everything through the detector."""
    deadline = time.monotonic() + timeout
    first = None
    while time.monotonic() < deadline:
        m = _totals(workers)
        if first is None and m.get("crisiswatch_posts_received_total", 0) > 0:
            first = time.monotonic()
        if first is not None and _settled(m, sent):
            return time.monotonic() - first
        await asyncio.sleep(0.2)  # the workers serve every poll: poll gently
    raise TimeoutError(f"the pipeline did not take {sent} posts in {timeout}s")


async def bench_layout(
    base: Settings,
    messages: list[bytes],
    partitions: int,
    latency_posts: int,
    timeout: float,
    per_subject_minute: float = 1.0,
    latency_load: float = 0.25,
) -> LayoutResult:
    """One layout's figures. ``latency_load``: the share of the throughput just measured that
    flows while the latency probes run (0: idle)."""
    run = uuid.uuid4().hex[:8]
    settings = base.replace(
        topic_prefix=f"{base.topic_prefix}bench-{run}.",
        app_id=f"{base.app_id}-bench-{run}",
        state_dir=base.state_dir / "bench" / run,
        partitions=partitions,
        raw_partitions=partitions,
        log_level="warn",
    )
    raw_rate = await raw_consume_rate(settings, messages)
    await ensure_topics(settings, topic_names(settings).__dict__.values())
    workers = []
    try:
        for k in range(partitions):
            worker_settings = settings.replace(metrics_port=free_port())
            worker = WorkerProcess(worker_settings, settings.state_dir / f"worker{k}.log").start()
            workers.append(worker)
        for worker in workers:
            await asyncio.to_thread(worker.wait_for_metrics, 60.0)
        # Let the group settle (Tansu holds each join for half the session timeout), so that
        # the run measures processing, not rebalancing.
        await asyncio.sleep(GROUP_SETTLE_SECONDS / 2)
        # Idle, in the settle's second half: a worker that spins on empty fetches shows here.
        idle_cpu, idle_start = cpu_seconds(workers), time.monotonic()
        await asyncio.sleep(GROUP_SETTLE_SECONDS / 2)
        # The idle window's end is the throughput window's start: one reading for both.
        cpu_before, window_start = cpu_seconds(workers), time.monotonic()
        idle_share = (cpu_before - idle_cpu) / (window_start - idle_start) / partitions
        load = asyncio.create_task(produce_raw(settings, messages))
        seconds = await _throughput(workers, len(messages), timeout)
        cpu = cpu_seconds(workers) - cpu_before
        cpu_window = time.monotonic() - window_start
        await load
        # Before the latency probes, which write state too: the throughput run's posts only.
        changelogs = await changelog_bytes(settings)
        rate = len(messages) / seconds
        loaded = await latencies_under_load(
            settings,
            workers,
            latency_posts,
            WatchList.load(settings.watchlist_file()),
            datetime.fromisoformat(orjson.loads(messages[-1])["created_at"]),
            per_subject_minute,
            latency_load * rate,
        )
        latencies = sorted(loaded.latencies)
        peak = max(_peak_rss(w) for w in workers)
    finally:
        for worker in workers:
            worker.stop()
    return LayoutResult(
        partitions=partitions,
        workers=partitions,
        posts=len(messages),
        posts_per_subject_minute=per_subject_minute,
        seconds=seconds,
        posts_per_second=rate,
        raw_consume_per_second=raw_rate,
        ratio_to_raw=rate / raw_rate,
        latency_p50_seconds=statistics.median(latencies),
        latency_p99_seconds=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        latency_load_posts_per_second=loaded.load_posts_per_second,
        peak_rss_bytes_per_worker=peak,
        cpu_seconds_per_post=cpu / len(messages),
        cpu_window_seconds=cpu_window,
        latency_cpu_seconds_per_post=loaded.cpu_seconds_per_post,
        idle_cpu_share_per_worker=idle_share,
        changelog_bytes_per_post=sum(c.bytes for c in changelogs) / len(messages),
        changelog_records=sum(c.records for c in changelogs),
        changelog_bytes_by_table={
            table: c.bytes for table, c in zip(TABLES, changelogs, strict=True)
        },
    )
