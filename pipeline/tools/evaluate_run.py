"""``crisiswatch evaluate``: a stream with ground truth through the real pipeline, scored.

The stream is a posts file with its truth file (``crisiswatch simulate`` writes both; the real
public sets come in the same Post JSONL + CrisisTruth format), or, by default, the default
simulation (3 days, 4 subjects, one crisis of each of the 6 kinds). Several posts files are
several streams (each a collection of its own, e.g. one per event of a data set), run one
after another with fresh state and scored together; ``--watchlist`` names their subjects. It goes
through the real pipeline by a replay (a worker of its own on the configured broker, or on a
local Tansu started for the run when none is configured), or with ``--offline`` through the
same model code in this process. The scores
(pipeline/tools/evaluation.py) are printed as a table and written as JSON for CI.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from pipeline.ingest.routing import RecentPosts, Routed, route
from pipeline.ingest.validation import Limits
from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.broker import broker_for
from pipeline.runtime.settings import Settings
from pipeline.tools.evaluation import Evaluation, evaluate
from pipeline.tools.offline import run_offline
from pipeline.tools.replay import run_replay
from pipeline.tools.simulate import SimulationConfig, write_simulation
from pipeline.tools.sources import event_time_key, read_posts
from schemas import Alert
from schemas.truth import CrisisTruth


def read_truth(path: Path) -> list[CrisisTruth]:
    return [CrisisTruth.from_bytes(line) for line in path.read_bytes().splitlines() if line.strip()]


def subject_days(
    messages: list[bytes], watchlist: WatchList, settings: Settings
) -> dict[str, float]:
    """Days of event time each monitored subject was watched in one stream: from the stream's
    first post to its last, for every subject the stream mentions at all (a quiet subject is
    watched too, and an alert on it is a false one)."""
    limits = Limits(
        max_raw_bytes=settings.max_raw_bytes,
        max_text_chars=settings.max_text_chars,
        max_subjects_per_post=settings.max_subjects_per_post,
    )
    recent = RecentPosts(len(messages) + 1)
    subjects: set[str] = set()
    times = []
    for raw in messages:
        result = route(raw, limits, watchlist, recent)
        if isinstance(result, Routed):
            subjects.update(result.subjects)
            times.append(event_time_key(raw))
    days = (max(times) - min(times)) / 86_400 if times else 0.0
    return dict.fromkeys(sorted(subjects), days)


async def run_evaluation(
    settings: Settings,
    posts_paths: list[Path],
    truth_path: Path | None,
    *,
    offline: bool,
    console: Console,
    watchlist_path: Path | None = None,
) -> Evaluation:
    """Each posts file is one stream (a collection of its own: fresh models, its own replay);
    the alerts of all of them are scored together against the truth."""
    run_dir = settings.state_dir / "evaluate"
    if watchlist_path is not None:
        settings = settings.replace(watchlist_path=watchlist_path.resolve())
    if not posts_paths or truth_path is None:
        posts_path, truth_path, _, _ = write_simulation(SimulationConfig(), run_dir / "simulation")
        posts_paths = [posts_path]
    truths = read_truth(truth_path)
    watchlist = WatchList.load(settings.watchlist_file())
    alerts: list[Alert] = []
    days: dict[str, float] = {}
    for posts_path in posts_paths:
        messages = list(read_posts(posts_path, sort_by_time=True))
        stream_days = subject_days(messages, watchlist, settings)
        for subject, d in stream_days.items():
            days[subject] = days.get(subject, 0.0) + d
        console.print(
            f"evaluating on {len(messages):,} messages ({posts_path}), {len(stream_days)} "
            f"subjects, {max(stream_days.values(), default=0.0):.1f} days; "
            f"{'in process (offline)' if offline else 'through the real pipeline (a replay)'}"
        )
        if offline:
            alerts.extend(run_offline(messages, watchlist).alerts)
        else:
            with broker_for(settings, run_dir) as live:
                result = await run_replay(live, str(posts_path), console=console)
            alerts.extend(result.alerts)
    console.print(f"{len(truths)} crises in {truth_path}")
    return evaluate(
        alerts, truths, subjects=len(days), days=sum(days.values()) / len(days) if days else 0.0
    )


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_evaluation(result: Evaluation, console: Console) -> None:
    table = Table(title="detection vs ground truth", show_header=False)
    table.add_row("crises detected / missed", f"{result.detected} / {result.missed}")
    table.add_row(
        "false alerts (per subject-day)",
        f"{result.false_alerts} ({result.false_alerts_per_subject_day:.3f})",
    )
    table.add_row(
        "detection delay, event time: median / p90",
        f"{_minutes(result.delay_median_seconds)} / {_minutes(result.delay_p90_seconds)}",
    )
    table.add_row(
        "origin correct: first post / platform / initiator",
        f"{_share(result.origin_first_post)} / {_share(result.origin_platform)} / "
        f"{_share(result.origin_initiator)}",
    )
    table.add_row(
        "final reach, median |log10 error|: at open / at peak",
        f"{_number(result.reach_log_error_at_open)} / {_number(result.reach_log_error_at_peak)}",
    )
    table.add_row("final reach inside the peak interval", _share(result.reach_interval_coverage))
    console.print(table)
    crises = Table("crisis", "kind", "subject", "detected", "delay", "origin", "reach / projected")
    for o in result.outcomes:
        origin = "".join(
            "-" if ok is None else ("✓" if ok else "✗")
            for ok in (o.first_post_ok, o.platform_ok, o.initiator_ok)
        )
        projected = "-" if o.projected_at_peak is None else f"{o.projected_at_peak:,.0f}"
        crises.add_row(
            o.crisis_id,
            o.kind,
            o.subject,
            "yes" if o.detected else "[red]no",
            _minutes(o.delay_seconds),
            origin,
            f"{o.final_reach:,} / {projected}",
        )
    console.print(crises)


def write_json(result: Evaluation, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
