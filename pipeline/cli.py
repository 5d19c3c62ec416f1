"""The ``crisiswatch`` command: faust's CLI (``worker``, ``agents``, ...) plus our commands.

crisiswatch broker                start the local broker (noida-db) on loopback
crisiswatch worker                run a pipeline worker (faust)
crisiswatch produce FILE          send JSONL/CSV posts to posts.raw
crisiswatch alerts                follow the alert topic as an ops team would
crisiswatch demo                  broker + worker + airline tweets + alerts, then stop
crisiswatch schemas               write the JSON Schema files
"""

from __future__ import annotations

import asyncio
import functools
import sys
import typing
from pathlib import Path
from typing import Any

import click
import orjson
from faust.cli import argument, option
from rich.console import Console

import agents.detector
import agents.feedback
import agents.health
import agents.ingest
import agents.signals
import pipeline.cli_tools  # noqa: F401  (registers the analysis commands)
from pipeline.cli_errors import command, worker_preflight
from pipeline.runtime import gc_tuning
from pipeline.runtime.app import app, settings
from schemas import SEVERITIES, Alert

_ = agents.detector


@command(
    option("--port", type=int, default=0, help="Port on 127.0.0.1 (default: a free one)."),
    option("--host", default="127.0.0.1", help="Address to listen on."),
    option(
        "--engine",
        type=click.Choice(["noida-db", "tansu"]),
        default=None,
        help="Which broker (default: CRISISWATCH_LOCAL_BROKER, noida-db).",
    ),
    option(
        "--check",
        is_flag=True,
        help="Run the broker conformance checks against it (or CRISISWATCH_BROKER_URL), then stop.",
    ),
)
async def broker(self: Any, port: int, host: str, engine: str | None, check: bool) -> None:
    """Start the local broker until interrupted (its data in the state directory), or check one."""
    from pipeline.runtime.broker import LocalBroker
    from pipeline.runtime.settings import LocalBrokerEngine

    chosen = typing.cast(LocalBrokerEngine, engine or settings.local_broker)
    console = Console(stderr=True)
    if check:
        from pipeline.runtime.conformance import print_checks, run_checks

        results = await run_checks(settings.replace(local_broker=chosen), settings.state_dir)
        print_checks(results, Console(width=150))
        raise SystemExit(0 if all(r.ok or not r.required for r in results) else 1)
    local = LocalBroker(
        host=host,
        port=port or None,
        state_file=settings.broker_state_path,
        engine=chosen,
        data_dir=settings.state_dir / "broker-data",
    )
    local.start()
    console.print(
        f"{local.engine} broker on {local.url} (address written to {settings.broker_state_path})"
    )
    if local.durable:
        console.print(f"data in {local.data_dir}, kept across restarts. Ctrl-C to stop.")
    else:
        console.print("memory storage: stopping the broker loses all topics. Ctrl-C to stop.")
    try:
        while local.process is not None and local.process.poll() is None:
            await asyncio.sleep(0.5)
        console.print("[red]the broker process exited")
    finally:
        local.stop()


@command(
    argument("file", type=Path),
    option("--sort/--no-sort", default=False, help="Send in event-time order."),
    option(
        "--feedback",
        is_flag=True,
        help="Send FILE's labelled posts (CSV labels or JSONL text+label) to the feedback topic.",
    ),
)
async def produce(self: Any, file: Path, sort: bool, feedback: bool) -> None:
    """Send the posts in FILE (JSONL, or CSV such as the airline tweets) to posts.raw."""
    from pipeline.runtime.kafka import topic_names
    from pipeline.tools.produce import produce_raw, produce_to
    from pipeline.tools.sources import read_feedback, read_posts

    file.open("rb").close()  # a missing or unreadable file is said before connecting
    if feedback:
        topic = topic_names(settings).feedback
        sent = await produce_to(settings, topic, read_feedback(file))
    else:
        topic = topic_names(settings).posts_raw
        sent = await produce_raw(settings, read_posts(file, sort_by_time=sort))
    Console(stderr=True).print(f"sent {sent:,} messages to {topic} at {app.conf.broker[0]}")


@command(
    option("--from-beginning/--new-only", default=False, help="Replay the topic from its start."),
    option("--json", "as_json", is_flag=True, help="One JSON alert per line."),
    option("--subject", "subjects", multiple=True, help="Only this subject (repeatable)."),
    option(
        "--min-severity",
        type=click.Choice(SEVERITIES),
        default="low",
        help="Only alerts that reach this severity (then all their events).",
    ),
    option("--webhook", default=None, help="Also POST each alert as JSON to this URL."),
    option("--idle-timeout", type=float, default=None, help="Stop after S seconds without one."),
    option("--limit", type=int, default=None, help="Stop after N alerts."),
)
async def alerts(
    self: Any,
    from_beginning: bool,
    as_json: bool,
    subjects: tuple[str, ...],
    min_severity: str,
    webhook: str | None,
    idle_timeout: float | None,
    limit: int | None,
) -> None:
    """Follow the alert topic and print alerts as they arrive (and forward them)."""
    from pipeline.tools.alert_feed import AlertFilter, follow_alerts, printer
    from pipeline.tools.webhook import WebhookForwarder

    show = printer(Console(), as_json)
    wanted = AlertFilter(subjects, min_severity)
    follow = functools.partial(
        follow_alerts,
        settings,
        from_beginning=from_beginning,
        idle_timeout=idle_timeout,
        limit=limit,
        alert_filter=wanted,
    )
    if webhook is None:
        await follow(show)
        return
    async with WebhookForwarder(
        webhook, timeout=settings.webhook_timeout_seconds, max_attempts=settings.webhook_attempts
    ) as forwarder:

        def show_and_forward(alert: Alert) -> None:
            show(alert)
            forwarder.submit(alert)

        await follow(show_and_forward)
    stats = forwarder.stats
    Console(stderr=True).print(
        f"webhook: {stats.delivered} delivered, {stats.failed} failed, {stats.dropped} dropped"
    )


@command(
    option(
        "--file",
        type=Path,
        default=None,
        help="Posts to stream, e.g. pipeline/data/airline_tweets_2015.csv (default: a scenario).",
    ),
    option("--timeout", type=float, default=600.0, help="Give up after S seconds."),
)
async def demo(self: Any, file: Path | None, timeout: float) -> None:
    """Broker, worker, a crisis scenario in, alerts out; then stop everything."""
    from pipeline.tools.demo import run_demo

    code = await run_demo(settings, file, Console(), timeout)
    if code:
        raise SystemExit(code)


@command(option("--out", type=Path, default=None, help="Directory (default: schemas/jsonschema)."))
async def schemas(self: Any, out: Path | None) -> None:
    """Write the JSON Schema file of each record."""
    from schemas.export import JSONSCHEMA_DIR, write_json_schemas

    for path in write_json_schemas(out or JSONSCHEMA_DIR):
        print(path)


@command(
    option("--train", type=Path, default=None, help="Learn from a labelled CSV first."),
)
async def sentiment(self: Any, train: Path | None) -> None:
    """Label each line of stdin: negative, neutral or positive, one per line.

    Without --train, the shipped model answers; with --train (a CSV with text and
    airline_sentiment columns, like the airline tweets), it learns that file online first.
    """
    from pipeline.models.sentiment import SentimentModel
    from pipeline.tools.sentiment_eval import label_lines
    from pipeline.tools.sentiment_eval import train as train_model

    model = train_model(train) if train else SentimentModel()
    for label in label_lines((line.rstrip("\n") for line in sys.stdin), model):
        sys.stdout.write(label + "\n")
    sys.stdout.flush()


@command(
    option("--file", type=Path, default=None, help="Labelled CSV (default: airline tweets)."),
    option(
        "--semeval",
        type=Path,
        default=None,
        help="SemEval TSV (../shared/data/sentiment/semeval_2013_2016.tsv): its held-out split.",
    ),
    option("--limit", type=int, default=None, help="Only the first N posts in event time."),
    option("--json", "as_json", is_flag=True, help="JSON instead of a table."),
)
async def sentiment_eval(
    self: Any, file: Path | None, semeval: Path | None, limit: int | None, as_json: bool
) -> None:
    """Macro-recall, accuracy, macro-F1: lexicon, shipped model, shipped + online learning."""
    from pipeline.runtime.settings import PACKAGE_DATA
    from pipeline.tools.sentiment_eval import evaluate, format_report

    report = evaluate(file or PACKAGE_DATA / "airline_tweets_2015.csv", semeval, limit=limit)
    print(orjson.dumps(report).decode() if as_json else format_report(report))


@command(
    option("--data", type=Path, required=True, help="SemEval TSV (semeval_2013_2016.tsv)."),
    option("--out", type=Path, default=None, help="Weights file (default: the shipped one)."),
)
async def sentiment_train(self: Any, data: Path, out: Path | None) -> None:
    """Train the shipped sentiment model (seeded; needs the train extra: scikit-learn)."""
    from pipeline.models.sentiment import SHIPPED_MODEL
    from pipeline.tools.sentiment_train import train

    print(orjson.dumps(train(data, out or SHIPPED_MODEL)).decode())


def main() -> None:
    if _command_name() == "worker":
        worker_preflight(settings)
    gc_tuning.tune(settings.gc_threshold)  # after every import: the agents' are above
    app.main()


def _command_name() -> str | None:
    return next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)


# Last: ``python -m pipeline.cli`` must see every command defined above.
if __name__ == "__main__":
    sys.exit(main())  # type: ignore[func-returns-value]
