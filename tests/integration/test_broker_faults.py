"""The broker goes away and comes back (a dedicated Tansu on a fixed port, memory storage: it
comes back empty). The worker keeps running without spinning, says clearly that the broker is
unreachable and when it is back, re-creates its topics and resumes: the crisis it was following
goes on from its in-memory state, with exactly the reference's remaining alert events."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from pipeline.runtime.broker import LocalBroker, free_port
from pipeline.runtime.kafka import ensure_topics, topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess, wait_until_settled
from pipeline.tools.produce import produce_raw
from schemas import Alert

from .conftest import StartWorker
from .helpers import metric, read_topic, wait_for
from .test_faults import events, reference, scenario

pytestmark = pytest.mark.integration


async def test_broker_goes_away_and_comes_back(
    settings: Settings, start_worker: StartWorker, tmp_path: Path
) -> None:
    port = free_port()
    broker = LocalBroker(port=port, log_file=tmp_path / "tansu.log").start()
    worker: WorkerProcess | None = None
    try:
        own = settings.replace(broker_url=broker.url, broker_profile="tansu")
        await ensure_topics(own, topic_names(own).__dict__.values())
        messages, expected = scenario()
        cut = next(i for i, raw in enumerate(messages) if b'"g60"' in raw)
        worker = await start_worker(own)
        await produce_raw(own, messages[:cut])
        await asyncio.to_thread(wait_until_settled, worker, cut, 60.0)
        opened = int(metric(worker, "crisiswatch_alerts_emitted_total"))
        assert opened >= 1

        broker.stop()  # memory storage: every topic, offset and group is gone
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

        broker = LocalBroker(port=port, log_file=tmp_path / "tansu.log").start()
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
        routed = await read_topic(own, names.posts, expected=1, timeout=30.0)
        assert routed, "posts flow to the posts topic again"
        # The worker kept its state in memory: the crisis goes on where it was and the alert
        # events after the outage are exactly the reference's remaining ones.
        rest = expected[opened:]
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


def cpu_seconds(worker: WorkerProcess) -> float:
    assert worker.process is not None
    fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, clock ticks
