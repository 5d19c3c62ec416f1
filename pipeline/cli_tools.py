"""The ``crisiswatch`` commands that study streams and the models: footprint, replay,
evaluate, bench, simulate, report, stories and forecast (``pipeline/cli.py`` has the ones that run
and feed the pipeline). Importing this module registers them on the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson
from faust.cli import argument, option
from rich.console import Console

from pipeline.cli_errors import command
from pipeline.runtime.app import settings


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
    option("--latency-posts", type=int, default=100, help="Single posts timed end to end."),
    option(
        "--latency-load",
        type=float,
        default=0.25,
        help="While they are timed, a load of this share of the measured throughput (0: idle).",
    ),
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
    latency_load: float,
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
        latency_load=latency_load,
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
    from pipeline.models.story_index import StoryTracker
    from pipeline.models.story_types import StoryConfig
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
