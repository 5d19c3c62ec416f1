"""Issue 16, defect 2: a worker started before anything else creates its topics with the
configured partitions (it used to let the broker auto-create them on subscription), and refuses
to start, with one line, when an existing topic contradicts the settings."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pipeline.runtime.kafka import client_options, topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess

pytestmark = pytest.mark.integration


async def partition_counts(settings: Settings) -> dict[str, int]:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
    finally:
        await admin.close()


async def test_a_worker_started_first_creates_its_topics_with_the_configured_partitions(
    settings: Settings,
) -> None:
    own = settings.replace(partitions=3, raw_partitions=1)
    own.state_dir.mkdir(parents=True, exist_ok=True)
    # No ensure_topics first (the start_worker fixture does it): the README's start order.
    worker = WorkerProcess(own, own.state_dir / "worker.log").start()
    try:
        await asyncio.to_thread(worker.wait_for_metrics, 60.0)
        counts = await partition_counts(own)
    finally:
        worker.stop()
    names = topic_names(own)
    assert counts[names.posts_raw] == 1
    for name in (names.posts, names.posts_dlq, names.signals, names.alerts):
        assert counts[name] == 3, (name, counts[name])
    changelogs = [n for n in counts if n.startswith(own.app_id) and n.endswith("-changelog")]
    assert changelogs and all(counts[n] == 3 for n in changelogs), changelogs


async def test_a_worker_refuses_a_topic_laid_out_against_the_settings(settings: Settings) -> None:
    raw = topic_names(settings).posts_raw
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(raw, 4, 1)])  # settings: raw_partitions == 1
    finally:
        await admin.close()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pipeline.cli", "worker", "--without-web", "-l", "warn"]
    done = await asyncio.to_thread(
        subprocess.run,
        command,
        env=settings.child_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if raw in line]
    assert lines == [
        f"crisiswatch worker: topic {raw} has 4 partitions but CRISISWATCH_RAW_PARTITIONS is 1: "
        f"delete the topic or set CRISISWATCH_RAW_PARTITIONS=4"
    ], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
