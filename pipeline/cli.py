"""The ``crisiswatch`` command: faust's CLI (``worker``, ``agents``, ...) plus our commands.

crisiswatch broker                start the local Tansu broker on loopback
crisiswatch worker                run a pipeline worker (faust)
crisiswatch produce FILE          send JSONL/CSV posts to posts.raw
crisiswatch alerts                follow the alert topic as an ops team would
crisiswatch demo                  broker + worker + airline tweets + alerts, then stop
crisiswatch schemas               write the JSON Schema files
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from faust.cli import argument, option
from rich.console import Console

import agents.detector
import agents.ingest
from pipeline.app import app, settings

_ = agents.detector


@app.command(
    option("--port", type=int, default=0, help="Port on 127.0.0.1 (default: a free one)."),
    option("--host", default="127.0.0.1", help="Address to listen on."),
)
async def broker(self: Any, port: int, host: str) -> None:
    """Start the local Tansu broker (memory storage) until interrupted."""
    from pipeline.broker import LocalBroker

    local = LocalBroker(host=host, port=port or None, state_file=settings.broker_state_path)
    local.start()
    console = Console(stderr=True)
    console.print(f"Tansu broker on {local.url} (address written to {settings.broker_state_path})")
    console.print("memory storage: stopping the broker loses all topics. Ctrl-C to stop.")
    try:
        while local.process is not None and local.process.poll() is None:
            await asyncio.sleep(0.5)
        console.print("[red]the broker process exited")
    finally:
        local.stop()


@app.command(
    argument("file", type=Path),
    option("--sort/--no-sort", default=False, help="Send in event-time order."),
)
async def produce(self: Any, file: Path, sort: bool) -> None:
    """Send the posts in FILE (JSONL, or CSV such as the airline tweets) to posts.raw."""
    from pipeline.produce import produce_raw
    from pipeline.sources import read_posts

    sent = await produce_raw(settings, read_posts(file, sort_by_time=sort))
    Console(stderr=True).print(f"sent {sent:,} messages to {app.conf.broker[0]}")


@app.command(
    option("--from-beginning/--new-only", default=False, help="Replay the topic from its start."),
    option("--json", "as_json", is_flag=True, help="One JSON alert per line."),
    option("--idle-timeout", type=float, default=None, help="Stop after S seconds without one."),
    option("--limit", type=int, default=None, help="Stop after N alerts."),
)
async def alerts(
    self: Any, from_beginning: bool, as_json: bool, idle_timeout: float | None, limit: int | None
) -> None:
    """Follow the alert topic and print alerts as they arrive."""
    from pipeline.alert_feed import follow_alerts, printer

    show = printer(Console(), as_json)
    await follow_alerts(
        settings, show, from_beginning=from_beginning, idle_timeout=idle_timeout, limit=limit
    )


@app.command(
    option("--file", type=Path, default=None, help="Posts to stream (default: airline tweets)."),
    option("--timeout", type=float, default=600.0, help="Give up after S seconds."),
)
async def demo(self: Any, file: Path | None, timeout: float) -> None:
    """Broker, worker, airline tweets in, alerts out; then stop everything."""
    from pipeline.demo import DEMO_POSTS, run_demo

    code = await run_demo(settings, file or DEMO_POSTS, Console(), timeout)
    if code:
        raise SystemExit(code)


@app.command(
    option("--out", type=Path, default=None, help="Directory (default: schemas/jsonschema).")
)
async def schemas(self: Any, out: Path | None) -> None:
    """Write the JSON Schema file of each record."""
    from schemas.export import JSONSCHEMA_DIR, write_json_schemas

    for path in write_json_schemas(out or JSONSCHEMA_DIR):
        print(path)


def main() -> None:
    app.main()


if __name__ == "__main__":
    sys.exit(main())  # type: ignore[func-returns-value]
