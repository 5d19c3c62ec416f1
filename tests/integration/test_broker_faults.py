"""The broker goes away and comes back (a dedicated local broker of the configured engine on a
fixed port). noida-db comes back with its data: the worker keeps running without spinning,
says clearly that the broker is unreachable and when it is back, and resumes; the crisis it was
following goes on, with exactly the reference's alert events. And (issue 16, defect 4) a broker
killed with SIGKILL while the worker is busy, restarted on the same port: on noida-db the worker
resumes and takes what is sent afterwards; on Tansu, which comes back empty, the worker used to
sit in faust's recovery for good, taking nothing, with a lag of 0: it now exits with code 3 and
one line, for its supervisor to restart it. The metrics show the outage while it lasts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from pipeline.runtime.broker import LocalBroker, free_port, local_broker
from pipeline.runtime.kafka import ensure_topics, make_consumer, topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess, wait_until_settled
from pipeline.tools.produce import produce_raw
from schemas import Alert

from .conftest import StartWorker
from .helpers import metric, post, read_routed, read_to_end, read_topic, routed_posts, wait_for
from .test_faults import events, reference, scenario

pytestmark = pytest.mark.integration


async def test_broker_goes_away_and_comes_back(
    settings: Settings, start_worker: StartWorker, tmp_path: Path
) -> None:
    if settings.is_tansu:
        pytest.skip("Tansu comes back empty: the worker exits (the SIGKILL test below)")
    port = free_port()
    broker = local_broker(settings, tmp_path, port=port).start()
    worker: WorkerProcess | None = None
    try:
        own = settings.replace(broker_url=broker.url, broker_profile=broker.profile)
        await ensure_topics(own, topic_names(own).__dict__.values())
        messages, expected = scenario()
        cut = next(i for i, raw in enumerate(messages) if b'"g60"' in raw)
        worker = await start_worker(own)
        await produce_raw(own, messages[:cut])
        await asyncio.to_thread(wait_until_settled, worker, cut, 60.0)
        opened = int(metric(worker, "crisiswatch_alerts_emitted_total"))
        assert opened >= 1

        broker.stop()  # on Tansu (memory storage) every topic, offset and group is gone
        down_at = time.monotonic()
        await wait_for(
            lambda: "Kafka broker unreachable" in worker.log_file.read_text(errors="replace"),
            10.0,
            "the worker to say the broker is unreachable",
        )
        cpu_before = cpu_seconds(worker)
        await asyncio.sleep(4.0)
        assert worker.running, "the worker must survive the broker going away"
        cpu_share = (cpu_seconds(worker) - cpu_before) / 4.0
        assert cpu_share < 0.9, f"worker spins while the broker is down: {cpu_share:.0%} CPU"

        broker = same_broker(broker)
        # No ensure_topics here: the worker re-creates its topics when the broker is back.
        await wait_for(
            lambda: "topics in place" in worker.log_file.read_text(errors="replace"),
            30.0,
            "the worker to see the broker back and re-create its topics",
        )
        assert time.monotonic() - down_at < 60
        received = metric(worker, "crisiswatch_posts_received_total")
        await produce_raw(own, messages[cut:])
        await wait_for(
            lambda: (
                metric(worker, "crisiswatch_posts_received_total") >= received + len(messages) - cut
            ),
            60.0,
            "the posts sent after the restart to be ingested",
        )
        names = topic_names(own)
        routed = await read_routed(own, expected=1, timeout=30.0)
        assert routed, "posts flow to the posts topic again"
        # The worker kept its state in memory: the crisis goes on where it was and the alert
        # events after the outage are exactly the reference's remaining ones.
        rest = expected  # noida-db kept the alerts sent before the outage
        records = await read_topic(own, names.alerts, expected=len(rest), timeout=60.0)
        got = events([r.value for r in records])
        assert {k: Alert.from_bytes(v).model_dump() for k, v in got.items()} == reference(rest)
        assert worker.running
        log = worker.log_file.read_text(errors="replace")
        assert "Kafka broker reachable again" in log
    finally:
        if worker is not None:
            worker.stop()  # before the broker: a worker stops cleanly only with a broker
        broker.stop()


def same_broker(broker: LocalBroker) -> LocalBroker:
    """The same broker started again: same engine, port and data directory."""
    return LocalBroker(
        port=broker.port, log_file=broker.log_file, engine=broker.engine, data_dir=broker.data_dir
    ).start()


INGEST_COUNTS = (
    "crisiswatch_posts_received_total",
    "crisiswatch_posts_processed_total",
    "crisiswatch_posts_dead_lettered_total",
)


async def test_broker_killed_while_the_worker_is_busy_and_restarted(
    settings: Settings, start_worker: StartWorker, tmp_path: Path
) -> None:
    """Whatever the broker kept: the worker resumes, or (the broker lost records it had read:
    always on Tansu; on noida-db, which writes its data directory periodically, when the kill
    took recent writes) it exits with code 3 and one line, and the worker its supervisor
    starts then resumes. Never stuck: the posts sent after the restart all get through."""
    broker = local_broker(settings, tmp_path, port=free_port()).start()
    worker: WorkerProcess | None = None
    try:
        own = settings.replace(broker_url=broker.url, broker_profile=broker.profile)
        messages, _ = scenario()
        worker = first = await start_worker(own)
        await produce_raw(own, messages)
        await wait_for(
            lambda: metric(first, "crisiswatch_posts_received_total") >= 300,
            60.0,
            "the worker to be busy with the stream",
        )
        broker.kill()  # SIGKILL mid-stream: no shutdown, whatever it had not written is lost
        await wait_for(
            lambda: metric(first, "crisiswatch_broker_reachable") == 0,
            10.0,
            "the metrics to show the broker unreachable",
        )
        broker = same_broker(broker)
        await wait_for(
            lambda: not first.running or "topics in place" in first.log_file.read_text(),
            60.0,
            "the worker to resume or to exit",
        )
        if not first.running:
            assert first.process is not None and first.process.wait() == 3, first.log_tail()
            line = "crisiswatch worker: the broker came back without records this worker had read"
            assert line in first.log_file.read_text(errors="replace")
            first.process = None  # exited: nothing to stop
            worker = await start_worker(own)  # what its supervisor does
        later = [post(100_000 + i, minutes=60 * 24 * 10 + i / 10) for i in range(500)]
        await produce_raw(own, later)
        ids = {f"p{100_000 + i}" for i in range(500)}
        posts = topic_names(own).posts

        async def routed_later() -> set[str]:
            records = await read_to_end(own, posts)
            return {p.post.id for p in routed_posts(records)} & ids

        deadline = time.monotonic() + 120.0
        while (got := await routed_later()) != ids:
            assert worker.running, "the worker died instead of resuming"
            # A shortfall once passed unexplained (1 run in ~125): say what ingest counted of
            # them (routed, duplicates, dead letters) and which ones are missing.
            assert time.monotonic() < deadline, (
                f"{len(got)} of 500 posts routed after restart; missing "
                f"{sorted(int(i[1:]) - 100_000 for i in ids - got)[:20]}...; ingest counts: "
                f"{ {k: v for k, v in worker.metrics().items() if k.startswith(INGEST_COUNTS)} }"
            )
            await asyncio.sleep(2.0)
    finally:
        if worker is not None:
            worker.stop()  # before the broker: a worker stops cleanly only with a broker
        broker.stop()


async def test_a_committed_offset_past_the_end_does_not_silence_the_worker(
    settings: Settings, start_worker: StartWorker
) -> None:
    """A broker that lost the tail of its log but kept the group's committed offsets (noida-db
    killed between its periodic writes) leaves the group's position past the partition's end.
    faust sought there and dropped every new record below it: the worker said ready and routed
    nothing (faust_seek.py). Now it resumes at the end: every post sent afterwards gets through."""
    names = topic_names(settings)
    await ensure_topics(settings, names.__dict__.values())
    await produce_raw(settings, [post(i) for i in range(10)])
    # The group's position, as the broker that lost records 10..509 left it.
    committer = make_consumer(settings, group_id=settings.app_id, enable_auto_commit=False)
    await committer.start()
    try:
        offsets = {TopicPartition(names.posts_raw, p): 510 for p in range(settings.raw_partitions)}
        committer.assign(list(offsets))
        await committer.commit(offsets)
    finally:
        await committer.stop()
    worker = await start_worker(settings)
    later = [post(1_000 + i, minutes=i) for i in range(20)]
    await produce_raw(settings, later)
    ids = {f"p{1_000 + i}" for i in range(20)}
    routed = await read_routed(settings, expected=20, timeout=60.0)
    assert {p.post.id for p in routed} == ids, worker.log_tail()
    assert "committed offset 510 is past the partition's end" in worker.log_file.read_text()


def cpu_seconds(worker: WorkerProcess) -> float:
    assert worker.process is not None
    fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, clock ticks
