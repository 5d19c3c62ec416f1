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
from pipeline.cli_errors import OneLineErrors, worker_preflight
from pipeline.runtime.app import app, settings
from schemas import SEVERITIES, Alert

_ = agents.detector


command = functools.partial(app.command, base=OneLineErrors)


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
    app.main()


def _command_name() -> str | None:
    return next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)


@command(
    option("--subjects", type=int, default=2, help="Subjects fed side by side."),
    option("--posts", type=str, default="1000,5000,20000", help="Checkpoints, posts per subject."),
)
async def footprint(self: Any, subjects: int, posts: str) -> None:
    """Memory of the signals state per subject as stories and authors pile up (worst case)."""
    from rich.table import Table

    from pipeline.tools.footprint import measure

    table = Table("posts/subject", "heap/subject", "table JSON/subject", "stories", "authors")
    for c in measure(subjects, [int(p) for p in posts.split(",")]):
        table.add_row(
            f"{c.posts_per_subject:,}",
            f"{c.heap_bytes_per_subject / 2**20:.2f} MiB",
            f"{c.state_json_bytes_per_subject / 2**10:.0f} KiB",
            str(c.active_stories),
            str(c.tracked_authors),
        )
    Console().print(table)


@command(
    argument("source"),
    option(
        "--speed",
        type=float,
        default=0.0,
        help="Event time per wall-clock time (60: an hour a minute); 0: as fast as possible.",
    ),
    option("--timeout", type=float, default=900.0, help="Give up after S seconds."),
    option(
        "--sentiment-model",
        default="shipped",
        help="Sentiment model to pin: 'shipped' or a version of the live model store.",
    ),
)
async def replay(
    self: Any, source: str, speed: float, timeout: float, sentiment_model: str
) -> None:
    """Replay SOURCE (JSONL, CSV or topic:NAME) in event-time order through a worker of its own
    (own topics and consumer group: the live pipeline is not disturbed) and print its alerts."""
    from pipeline.tools.replay import run_replay

    console = Console()
    result = await run_replay(
        settings,
        source,
        speed=speed,
        console=console,
        timeout=timeout,
        sentiment_model=sentiment_model,
    )
    f = result.figures
    console.print(
        f"replay {result.run_id}: sent {result.sent:,}, processed {f['processed']:,.0f}, "
        f"dead-lettered {f['dead_lettered']:,.0f}, signal reports {f['reports']:,.0f}, "
        f"alert events {len(result.alerts)} ({len({a.alert_id for a in result.alerts})} ids), "
        f"{result.seconds:.1f} s"
    )


@command(
    option(
        "--posts",
        type=Path,
        multiple=True,
        help="Stream (JSONL/CSV), repeatable: each file is a stream of its own; "
        "default: a simulation.",
    ),
    option("--truth", type=Path, default=None, help="Its ground truth (CrisisTruth JSONL)."),
    option("--watchlist", type=Path, default=None, help="Subjects (TOML); default: settings."),
    option("--offline", is_flag=True, help="Run the model code in process, without Kafka."),
    option("--json", "json_out", type=Path, default=None, help="Also write the scores here."),
)
async def evaluate(
    self: Any,
    posts: tuple[Path, ...],
    truth: Path | None,
    watchlist: Path | None,
    offline: bool,
    json_out: Path | None,
) -> None:
    """Run streams with ground truth through the pipeline and score detection: detected and
    missed crises, false alerts, delay, origin correctness, reach estimate error."""
    from pipeline.tools.evaluate_run import print_evaluation, run_evaluation, write_json

    console = Console()
    result = await run_evaluation(
        settings, list(posts), truth, offline=offline, console=console, watchlist_path=watchlist
    )
    print_evaluation(result, console)
    if json_out is not None:
        write_json(result, json_out)
        console.print(f"scores written to {json_out}")


@command(
    option("--posts", "n_posts", type=int, default=20_000, help="Posts per layout."),
    option("--layouts", default="1,2,4", help="Partitions (= workers) per run, comma-separated."),
    option(
        "--density",
        default="1",
        help="Posts per subject-minute of event time, comma-separated: 1 is a sparse stream "
        "(history replayed: a report per post or two), 100 a busy live one.",
    ),
    option("--latency-posts", type=int, default=50, help="Single posts timed end to end."),
    option("--json", "json_out", type=Path, default=None, help="Also write the figures here."),
    option("--timeout", type=float, default=900.0, help="Give up on a layout after S seconds."),
    option(
        "--models-only",
        is_flag=True,
        default=False,
        help="Time the model code alone, in process, without a broker (a worker's ceiling).",
    ),
)
async def bench(
    self: Any,
    n_posts: int,
    layouts: str,
    density: str,
    latency_posts: int,
    json_out: Path | None,
    timeout: float,
    models_only: bool,
) -> None:
    """Throughput (posts/s, and as a share of a raw consumer's rate), end-to-end latency and
    peak memory of the whole pipeline for 1, 2 and 4 partitions/workers, on a real broker."""
    from pipeline.tools.bench_run import models_only_table, results_table, run_bench

    console = Console()
    densities = [float(d) for d in density.split(",")]
    if models_only:
        console.print(models_only_table(settings, n_posts, densities))
        return
    results = await run_bench(
        settings,
        n_posts,
        [int(p) for p in layouts.split(",")],
        densities,
        latency_posts,
        timeout,
        progress=console.print,
    )
    console.print(results_table(results))
    if json_out is not None:
        json_out.write_bytes(orjson.dumps([r.as_dict() for r in results]))


@command(
    option("--out", type=Path, default=Path("simulation"), help="Directory for the files."),
    option("--seed", type=int, default=7),
    option("--days", type=float, default=3.0),
    option("--subjects", "n_subjects", type=int, default=4, help="Airlines of the watch list."),
    option("--crises", type=int, default=6, help="Injected crises, one kind after another."),
    option("--rate", type=float, default=30.0, help="Ordinary posts per subject-hour."),
)
async def simulate(
    self: Any, out: Path, seed: int, days: float, n_subjects: int, crises: int, rate: float
) -> None:
    """Write a seeded multi-platform stream with injected crises (posts.jsonl) and their
    ground truth (truth.jsonl), for replay and evaluate."""
    import time

    from rich.table import Table

    from pipeline.tools.simulate import SUBJECTS, SimulationConfig, write_simulation

    config = SimulationConfig(
        seed=seed,
        days=days,
        subjects=tuple(SUBJECTS)[:n_subjects],
        crises=crises,
        posts_per_hour=rate,
    )
    started = time.monotonic()
    posts_path, truth_path, count, truths = write_simulation(config, out)
    seconds = time.monotonic() - started
    table = Table("crisis", "subject", "onset (UTC)", "origin", "platforms", "posts", "reach")
    for t in truths:
        table.add_row(
            t.kind,
            t.subject,
            f"{t.onset:%Y-%m-%d %H:%M}",
            f"{t.origin_platform} {t.first_post}",
            " > ".join(t.platforms),
            f"{t.posts:,}",
            f"{t.final_reach:,}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"{count:,} posts in {posts_path}, truth in {truth_path} "
        f"({count / seconds:,.0f} posts/s written)"
    )


@command(
    argument("alert_id"),
    option("--out", type=Path, default=None, help="HTML file (default: report-ALERT_ID.html)."),
)
async def report(self: Any, alert_id: str, out: Path | None) -> None:
    """Post-mortem of a crisis as an HTML page: its timeline against the baseline, origin and
    platforms, reach, opinion leaders, alert events and evidence (from the topics)."""
    from pipeline.tools.report import fetch_crisis, render_report

    console = Console(stderr=True)
    alerts, reports = await fetch_crisis(settings, alert_id)
    if not alerts:
        console.print(f"[red]no alert {alert_id} on the alerts topic")
        raise SystemExit(2)
    path = out or Path(f"report-{alert_id}.html")
    path.write_text(render_report(alerts, reports), encoding="utf-8")
    console.print(
        f"{path}: {len(alerts)} events of {alert_id} ({alerts[0].subject}), {len(reports)} reports"
    )


@command(
    argument("file", type=Path),
    option("--json", "as_json", is_flag=True, help="One JSON record per post (else text)."),
    option(
        "--disorder",
        type=float,
        default=0.0,
        help="Deliver each post up to S seconds late (seeded), as a partitioned feed would.",
    ),
    option("--seed", type=int, default=0, help="Seed of --disorder."),
)
async def stories(self: Any, file: Path, as_json: bool, disorder: float, seed: int) -> None:
    """Run the story tracker over FILE (Post JSONL or CSV) and print, per post, its story and
    the story's origin as assigned when the post arrived; then check roots and origin against
    the file's own reply/repost/quote links (on stderr)."""
    from pipeline.ingest.validation import Limits
    from pipeline.models.story_index import StoryConfig, StoryTracker
    from pipeline.tools.post_stream import load_posts
    from pipeline.tools.stories import check, delivery_order, track

    stream = load_posts(file, Limits(settings.max_raw_bytes, settings.max_text_chars))
    posts = delivery_order(stream.posts, disorder, seed)
    # Every post stays in the recent-post map, so the check reads the roots it ends with.
    tracker = StoryTracker("stream", StoryConfig(max_recent_posts=max(len(posts), 1)))
    records = []
    for record in track(posts, tracker):
        records.append(record)
        line = {k: v for k, v in record.items() if k not in ("merged", "story_root")}
        if as_json:
            print(orjson.dumps(line).decode())
        else:
            print(" ".join(f"{k}={v}" for k, v in line.items()))
    summary = check(posts, records, tracker)
    summary["rejected"] = dict(stream.rejected)
    Console(stderr=True).print_json(orjson.dumps(summary).decode())


@command(
    argument("file", type=Path),
    option("--observe", type=float, required=True, help="Seconds after each root to observe."),
    option("--json", "as_json", is_flag=True, help="One JSON record per root (else text)."),
    option(
        "--complete-after",
        type=float,
        default=7 * 86_400.0,
        help="A cascade quiet this long counts as complete and calibrates later forecasts.",
    ),
    option(
        "--cross-fit",
        "folds",
        type=int,
        default=0,
        help="K > 1: calibrate each of K folds (seeded, by root id) on the others only.",
    ),
    option("--seed", type=int, default=0, help="Seed of the --cross-fit folds."),
)
async def forecast(
    self: Any,
    file: Path,
    observe: float,
    as_json: bool,
    complete_after: float,
    folds: int,
    seed: int,
) -> None:
    """Group FILE's posts into cascades by their links and forecast each cascade's final posts
    and reach from its first --observe seconds (80% interval), with the pipeline's forecaster;
    then score the forecasts against the sizes at the end of the stream (on stderr)."""
    from pipeline.ingest.validation import Limits
    from pipeline.tools.forecast import forecast_cross_fit, forecast_online, score
    from pipeline.tools.post_stream import load_posts

    if observe <= 0.0 or complete_after < observe:
        raise click.BadParameter("need 0 < --observe <= --complete-after")
    stream = load_posts(file, Limits(settings.max_raw_bytes, settings.max_text_chars))
    if folds > 1:
        records, cascades = forecast_cross_fit(stream.posts, observe, folds, seed)
    else:
        records, cascades = forecast_online(stream.posts, observe, complete_after)
    for r in records:
        low, high = r["interval"]
        print(
            orjson.dumps(r).decode()
            if as_json
            else f"{r['root']}: {r['observed_posts']:,} posts -> {r['projected_posts']:,.0f} "
            f"[{low:,.0f}-{high:,.0f}], reach {r['observed_reach']:,} -> "
            f"{r['projected_reach']:,}{'' if r['calibrated'] else ' (uncalibrated)'}"
        )
    summary = score(records, cascades)
    summary.update(
        mode=f"cross-fit {folds} folds, seed {seed}" if folds > 1 else "online (prequential)",
        rejected=dict(stream.rejected),
    )
    Console(stderr=True).print_json(orjson.dumps(summary).decode())


# Last: ``python -m pipeline.cli`` must see every command defined above.
if __name__ == "__main__":
    sys.exit(main())  # type: ignore[func-returns-value]
