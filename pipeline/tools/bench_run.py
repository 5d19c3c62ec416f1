"""``crisiswatch bench``'s runs and tables: every layout of every density on one broker, with
the models-only rate of each density's stream (the ceiling a worker's rate is measured against)."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.broker import broker_for
from pipeline.runtime.settings import Settings
from pipeline.tools.bench import LayoutResult, bench_layout, models_only_rate
from pipeline.tools.bench_posts import bench_posts


async def run_bench(
    settings: Settings,
    n_posts: int,
    layouts: list[int],
    densities: list[float],
    latency_posts: int,
    timeout: float,
    progress: Callable[[str], None] = print,
    latency_load: float = 0.25,
) -> list[LayoutResult]:
    watchlist = WatchList.load(settings.watchlist_file())
    results = []
    with broker_for(settings, settings.state_dir / "bench") as live:
        for per_minute in densities:
            messages = bench_posts(n_posts, per_subject_minute=per_minute)
            progress(f"{per_minute:g} posts/subject-minute: the models alone ...")
            models_only, _ = models_only_rate(messages, watchlist)
            for partitions in layouts:
                progress(
                    f"{per_minute:g} posts/subject-minute: {partitions} partition(s), "
                    f"{partitions} worker(s) ..."
                )
                result = await bench_layout(
                    live, messages, partitions, latency_posts, timeout, per_minute, latency_load
                )
                result.models_only_per_second = models_only
                results.append(result)
    return results


def results_table(results: list[LayoutResult]) -> Table:
    table = Table(
        "posts/subject-min",
        "partitions/workers",
        "posts",
        "posts/s",
        "models-only posts/s",
        "raw consume posts/s",
        "ratio",
        "latency under posts/s",
        "latency p50",
        "latency p99",
        "CPU µs/post at latency load",
        "peak RSS/worker",
        "idle CPU/worker",
        "CPU µs/post",
        "changelog B/post",
    )
    for r in results:
        table.add_row(
            f"{r.posts_per_subject_minute:g}",
            str(r.partitions),
            f"{r.posts:,}",
            f"{r.posts_per_second:,.0f}",
            f"{r.models_only_per_second:,.0f}",
            f"{r.raw_consume_per_second:,.0f}",
            f"{r.ratio_to_raw:.3f}",
            f"{r.latency_load_posts_per_second:,.0f}",
            f"{r.latency_p50_seconds * 1000:.0f} ms",
            f"{r.latency_p99_seconds * 1000:.0f} ms",
            f"{r.latency_cpu_seconds_per_post * 1e6:,.0f}",
            f"{r.peak_rss_bytes_per_worker / 2**20:.0f} MiB",
            f"{r.idle_cpu_share_per_worker:.0%}",
            f"{r.cpu_seconds_per_post * 1e6:,.0f}",
            f"{r.changelog_bytes_per_post:,.0f}",
        )
    return table


def models_only_table(settings: Settings, n_posts: int, densities: list[float]) -> Table:
    watchlist = WatchList.load(settings.watchlist_file())
    table = Table("posts/subject-min", "posts", "signal reports", "posts/s (models only)")
    for per_minute in densities:
        messages = bench_posts(n_posts, per_subject_minute=per_minute)
        rate, reports = models_only_rate(messages, watchlist)
        table.add_row(f"{per_minute:g}", f"{n_posts:,}", f"{reports:,}", f"{rate:,.0f}")
    return table
