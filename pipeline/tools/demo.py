"""``crisiswatch demo``: the whole path on a fresh local broker, from posts to printed alerts.

Starts the local broker (noida-db unless CRISISWATCH_LOCAL_BROKER says tansu) on a free
loopback port and one worker, subscribes to the alert topic, streams a
scenario (ordinary days for three airlines, then a crisis for one: pipeline/tools/scenario.py) or a
file of posts in event-time order, plus a handful of malformed messages, prints alerts as they
arrive, checks that the counts reconcile, and stops everything it started.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline.runtime.broker import free_port, local_broker
from pipeline.runtime.kafka import ensure_topics, topic_names
from pipeline.runtime.settings import PACKAGE_DATA, Settings
from pipeline.runtime.worker_process import WorkerProcess, wait_until_settled
from pipeline.tools.alert_feed import follow_alerts, printer
from pipeline.tools.produce import produce_raw
from pipeline.tools.scenario import crisis_scenario, encoded
from pipeline.tools.sources import read_posts
from schemas import Alert

#: Subjects with only ordinary days in the demo scenario, next to the one with a crisis.
DEMO_OTHERS = ("@Delta", "@SouthwestAir")
DEMO_MALFORMED = PACKAGE_DATA / "malformed_samples.jsonl"


async def run_demo(
    base: Settings, posts_file: Path | None, console: Console, timeout: float
) -> int:
    run_dir = base.state_dir / "demo"
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with local_broker(base, run_dir) as broker:
        settings = base.replace(
            broker_url=broker.url,
            broker_profile=broker.profile,
            state_dir=run_dir,
            metrics_port=free_port(),
            log_level="warn",
        )
        console.rule("[bold]Crisiswatch demo")
        console.print(f"broker   {broker.engine} at {broker.bootstrap}")
        await ensure_topics(settings, topic_names(settings).__dict__.values())
        worker = WorkerProcess(settings, run_dir / "worker.log").start()
        try:
            await asyncio.to_thread(worker.wait_for_metrics, 60.0)
            console.print(
                f"worker   pid {worker.process.pid if worker.process else '?'}, metrics at "
                f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
            )
            return await _stream_and_show(settings, worker, posts_file, console, timeout, started)
        finally:
            worker.stop()
            console.print("stopped  worker and broker")


async def _stream_and_show(
    settings: Settings,
    worker: WorkerProcess,
    posts_file: Path | None,
    console: Console,
    timeout: float,
    started: float,
) -> int:
    alerts: list[Alert] = []
    show = printer(console, as_json=False)

    def on_alert(alert: Alert) -> None:
        alerts.append(alert)
        show(alert)

    stop = asyncio.Event()
    feed = asyncio.create_task(follow_alerts(settings, on_alert, stop=stop))
    if posts_file is None:
        posts, truth = crisis_scenario(others=DEMO_OTHERS)
        messages, source = (
            encoded(posts),
            (
                f"a scenario: ordinary days, then at {truth.onset:%Y-%m-%d %H:%M}Z a crisis for "
                f"{truth.subject} (first post {truth.first_post} on {truth.origin_platform})"
            ),
        )
    else:
        messages, source = list(read_posts(posts_file, sort_by_time=True)), posts_file.name
    messages += read_posts(DEMO_MALFORMED)
    console.print(f"input    {len(messages):,} messages: {source}, and malformed samples")
    console.rule("alerts, as an ops subscriber sees them")
    try:
        sent = await produce_raw(settings, messages)
        figures = await asyncio.to_thread(wait_until_settled, worker, sent, timeout)
        await asyncio.sleep(2.0)  # the last alert sends are in flight: let the feed catch them
    finally:
        # Also on failure: a feed left running would outlive the broker and retry forever.
        stop.set()
        await asyncio.wait_for(feed, 30.0)
    _summary(console, sent, figures, alerts, time.monotonic() - started)
    reconciled = sent == figures["processed"] + figures["dead_lettered"]
    return 0 if reconciled else 1


def _summary(
    console: Console, sent: int, figures: dict[str, float], alerts: list[Alert], seconds: float
) -> None:
    table = Table(title="demo summary", show_header=False)
    table.add_row("messages sent to posts.raw", f"{sent:,}")
    table.add_row("processed (valid posts)", f"{figures['processed']:,.0f}")
    table.add_row("dead-lettered (posts.dlq)", f"{figures['dead_lettered']:,.0f}")
    ok = sent == figures["processed"] + figures["dead_lettered"]
    table.add_row("in = processed + dead-lettered", "[green]yes" if ok else "[red]NO")
    table.add_row(
        "subject posts routed / through signals",
        f"{figures['routed']:,.0f} / {figures['signals']:,.0f}",
    )
    table.add_row(
        "signals: learnt / held / dead-lettered",
        f"{figures['learnt']:,.0f} / {figures['held']:,.0f} / "
        f"{figures['signals_dead_lettered']:,.0f}",
    )
    states: dict[str, int] = {}
    for alert in alerts:
        states[alert.state] = states.get(alert.state, 0) + 1
    table.add_row(
        "signal reports sent / through detector",
        f"{figures['reports']:,.0f} / {figures['detected']:,.0f}",
    )
    table.add_row("alert ids", str(len({a.alert_id for a in alerts})))
    table.add_row(
        "alert events", ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none"
    )
    table.add_row("wall-clock time", f"{seconds:.1f} s")
    console.print(table)
