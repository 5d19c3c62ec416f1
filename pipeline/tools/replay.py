"""``crisiswatch replay SOURCE``: a historical stream through the pipeline, in event-time order.

A replay never touches the live pipeline: it gets its own topics (a topic prefix of its own) and
its own worker with its own consumer group and tables (an app id of its own), on the same broker
or any other. SOURCE is a file (JSONL, or CSV such as the airline tweets) or ``topic:NAME``, a
topic of that broker read from its start (say the live ``posts.raw``). Messages are sent in
event-time order, as fast as possible or at a speed factor (``--speed 60``: one hour of event
time per minute), with a progress bar, and the alerts are printed as the worker raises them.

Everything downstream runs on event time, so the alerts do not depend on the speed: a test
replays one stream fast, paced and from a topic, and gets the same alerts as the in-process
reference (pipeline/tools/offline.py).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pipeline.runtime.broker import free_port
from pipeline.runtime.kafka import ensure_topics, make_producer, read_until_idle, topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess, wait_until_settled
from pipeline.tools.alert_feed import follow_alerts, printer
from pipeline.tools.sources import event_time_key, in_event_time_order, read_posts
from schemas import Alert

TOPIC_SOURCE = "topic:"


@dataclass
class ReplayResult:
    run_id: str
    sent: int
    figures: dict[str, float]
    alerts: list[Alert] = field(default_factory=list)
    seconds: float = 0.0


def replay_settings(live: Settings, run_id: str, sentiment_model: str = "shipped") -> Settings:
    """Topics, group, tables and metrics port of one replay: nothing shared with the live run.
    The sentiment model is pinned (frozen): the shipped weights, or a version of the live
    model store, so the replay's alerts do not depend on when it runs."""
    return live.replace(
        sentiment_model_version=sentiment_model,
        sentiment_model_topic=topic_names(live).sentiment_model,
        broker_url=live.resolved_broker_url(),  # the state dir (and its broker.json) changes
        topic_prefix=f"{live.topic_prefix}replay-{run_id}.",
        app_id=f"{live.app_id}-replay-{run_id}",
        state_dir=live.state_dir / "replays" / run_id,
        metrics_port=free_port(),
    )


async def load_source(settings: Settings, source: str, idle_seconds: float = 2.0) -> list[bytes]:
    """The source's raw messages, sorted by event time (unreadable ones last, in input order)."""
    if not source.startswith(TOPIC_SOURCE):
        return list(read_posts(Path(source), sort_by_time=True))
    records = await read_until_idle(settings, source[len(TOPIC_SOURCE) :], idle_seconds)
    return in_event_time_order(value for _, value in records)


async def send_paced(
    settings: Settings, messages: Sequence[bytes], speed: float, progress: Progress | None = None
) -> int:
    """Send to posts.raw in order; with ``speed`` > 0, event time runs ``speed`` times faster
    than the wall clock (messages without an event time go at once)."""
    topic = topic_names(settings).posts_raw
    producer = make_producer(settings)
    await producer.start()
    task = progress.add_task("replay", total=len(messages)) if progress else None
    pending: list[asyncio.Future[object]] = []
    started, first = time.monotonic(), None
    try:
        for raw in messages:
            if speed > 0:
                ts = event_time_key(raw)
                if math.isfinite(ts):
                    first = ts if first is None else first
                    delay = started + (ts - first) / speed - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
            pending.append(await producer.send(topic, value=raw))
            if len(pending) >= 1_000:
                await asyncio.gather(*pending)
                pending.clear()
            if progress is not None and task is not None:
                progress.advance(task)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(messages)


async def run_replay(
    live: Settings,
    source: str,
    *,
    speed: float = 0.0,
    console: Console | None = None,
    run_id: str | None = None,
    timeout: float = 900.0,
    sentiment_model: str = "shipped",
) -> ReplayResult:
    """Replay ``source`` through a worker of its own; return the alerts it raised."""
    run_id = run_id or uuid.uuid4().hex[:8]
    settings = replay_settings(live, run_id, sentiment_model)
    console = console or Console(quiet=True)
    started = time.monotonic()
    messages = await load_source(live, source)
    await ensure_topics(settings, topic_names(settings).__dict__.values())
    worker = WorkerProcess(settings, settings.state_dir / "worker.log").start()
    result = ReplayResult(run_id=run_id, sent=0, figures={})
    show = printer(console, as_json=False)
    stop = asyncio.Event()

    def on_alert(alert: Alert) -> None:
        result.alerts.append(alert)
        show(alert)

    try:
        await asyncio.to_thread(worker.wait_for_metrics, 60.0)
        console.print(
            f"replay {run_id}: {len(messages):,} messages from {source} into topics "
            f"'{settings.topic_prefix}*', group {settings.app_id}, "
            f"{'as fast as possible' if speed <= 0 else f'speed x{speed:g}'}"
        )
        feed = asyncio.create_task(follow_alerts(settings, on_alert, stop=stop))
        try:
            with Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            ) as progress:
                result.sent = await send_paced(settings, messages, speed, progress)
            result.figures = await asyncio.to_thread(
                wait_until_settled, worker, result.sent, timeout
            )
            await asyncio.sleep(2.0)  # the last alert sends are in flight: let the feed see them
        finally:
            stop.set()
            await asyncio.wait_for(feed, 30.0)
    finally:
        worker.stop()
    result.seconds = time.monotonic() - started
    return result
