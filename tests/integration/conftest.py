from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from pipeline.runtime.kafka import ensure_topics, topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess

StartWorker = Callable[[Settings], Awaitable[WorkerProcess]]


@pytest.fixture
async def start_worker(settings: Settings) -> AsyncIterator[StartWorker]:
    """Start ``crisiswatch worker`` processes; all are stopped (and their logs shown) at the end."""
    started: list[WorkerProcess] = []
    await ensure_topics(settings, topic_names(settings).__dict__.values())

    async def start(worker_settings: Settings) -> WorkerProcess:
        n = len(started)
        worker = WorkerProcess(worker_settings, worker_settings.state_dir / f"worker{n}.log")
        started.append(worker.start())
        await asyncio.to_thread(worker.wait_for_metrics, 60.0)
        return worker

    yield start
    for n, worker in enumerate(started):
        worker.stop()
        print(f"--- worker {n} log tail ---\n{worker.log_tail()}")
