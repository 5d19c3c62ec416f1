"""Fingerprints of everything the models emit, to show a speed-up changed nothing.

Runs the offline pipeline (pipeline/tools/offline.py: the agents' model code in one process)
over inputs shipped in this repository and prints, per input, a SHA-256 prefix of every signal
report and of every alert (their JSON, as the topics carry them), with counts and the models'
posts/s per CPU-second. Run it in two checkouts and compare: equal fingerprints mean identical
reports and alerts, byte for byte.

    .venv/bin/python -m pipeline.tools.fingerprint            # every input
    .venv/bin/python -m pipeline.tools.fingerprint sparse crisislex

Inputs: the bench's sparse and dense streams (20,000 posts), the airline tweets (14,640,
pipeline/data) and the CrisisLexT26 sample of tests/data/real with its watch list: real
streams nobody here wrote.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from pipeline.ingest.watchlist import WatchList
from pipeline.tools.offline import run_offline
from pipeline.tools.sources import in_event_time_order, read_posts

REPO = Path(__file__).resolve().parents[2]
REAL = REPO / "tests" / "data" / "real"


@dataclass(frozen=True)
class Fingerprint:
    posts: int
    reports: int
    alerts: int
    reports_sha256: str
    alerts_sha256: str
    #: The models' rate on this input, per CPU-second of this process (not a fingerprint).
    posts_per_cpu_second: float


def fingerprint(messages: list[bytes], watchlist: WatchList) -> Fingerprint:
    started = time.process_time()
    run = run_offline(messages, watchlist, keep_reports=True)
    cpu = time.process_time() - started
    reports, alerts = hashlib.sha256(), hashlib.sha256()
    for report in run.kept_reports:
        reports.update(report.model_dump_json().encode())
    for alert in run.alerts:
        alerts.update(alert.model_dump_json().encode())
    return Fingerprint(
        posts=len(messages),
        reports=run.reports,
        alerts=len(run.alerts),
        reports_sha256=reports.hexdigest()[:16],
        alerts_sha256=alerts.hexdigest()[:16],
        posts_per_cpu_second=round(len(messages) / cpu) if cpu > 0 else 0.0,
    )


def inputs() -> dict[str, Callable[[], tuple[list[bytes], WatchList]]]:
    from pipeline.runtime.settings import Settings
    from pipeline.tools.bench_posts import bench_posts

    def default() -> WatchList:
        return WatchList.load(Settings.from_env().watchlist_file())

    airline = REPO / "pipeline" / "data" / "airline_tweets_2015.csv"
    crisislex = sorted((REAL / "crisislex_t26").glob("2*.jsonl"))
    return {
        "sparse": lambda: (bench_posts(20_000, per_subject_minute=1.0), default()),
        "dense": lambda: (bench_posts(20_000, per_subject_minute=100.0), default()),
        "airline": lambda: (list(read_posts(airline, sort_by_time=True)), default()),
        "crisislex": lambda: (
            in_event_time_order(raw for path in crisislex for raw in read_posts(path)),
            WatchList.load(REAL / "crisislex_t26" / "watchlist.toml"),
        ),
    }


def main() -> None:
    available = inputs()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"inputs (default: all of {', '.join(available)})")
    args = parser.parse_args()
    for name in args.names or available:
        messages, watchlist = available[name]()
        print(name, orjson.dumps(asdict(fingerprint(messages, watchlist))).decode(), flush=True)


if __name__ == "__main__":
    main()
