"""Broker conformance: the Kafka behaviour the pipeline depends on, each a small timed check.

``crisiswatch broker --check`` runs them all against a broker (the configured one, else a local
one it starts) and prints a table; tests/broker/ runs each against the test session's broker and
requires what its profile claims. A check that the profile does not claim is still run and
reported: that is how a new broker (or a new version) is sized up before it is trusted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline.runtime.broker import local_broker
from pipeline.runtime.conformance_checks import (
    check_changelog_after_restart,
    check_commit_resume,
    check_compaction,
    check_dead_member_evicted,
    check_empty_fetch_held,
    check_end_offsets,
    check_group_times,
    check_idempotent,
    check_kcat,
    check_topics,
    check_transactions,
)
from pipeline.runtime.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Settings], Awaitable[str]]
    #: Profiles that claim this behaviour (a failure there fails the check).
    claimed_by: tuple[str, ...] = ("kafka", "tansu")


CHECKS: tuple[Check, ...] = (
    Check("topics: create with partitions", check_topics),
    Check("topics: compaction config", check_compaction, ("kafka",)),
    Check("batched produce, end offsets", check_end_offsets, ("kafka",)),
    Check("group join, rebalance, rejoin", check_group_times, ("kafka",)),
    Check("offset commit and resume", check_commit_resume),
    Check("dead member evicted after session", check_dead_member_evicted, ()),
    # Not by kafka: noida-db (kafka profile) answers at once; the client pauses (empty_fetch).
    Check("empty fetch held for its max wait", check_empty_fetch_held, ("tansu",)),
    Check("idempotent producer", check_idempotent, ("kafka",)),
    Check("transactions, read_committed", check_transactions, ("kafka",)),
    Check("kcat reads a topic", check_kcat, ("kafka",)),
)
#: Needs a local broker it can restart (not run against a configured CRISISWATCH_BROKER_URL).
RESTART_CHECK = "changelog recovery after broker restart"


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    required: bool
    seconds: float
    detail: str


async def timed(name: str, required: bool, run: Awaitable[str], timeout: float = 60.0) -> Result:
    started = time.monotonic()
    try:
        detail, ok = await asyncio.wait_for(run, timeout), True
    except Exception as exc:  # a failed check is a result, not the end of the run
        detail, ok = f"{type(exc).__name__}: {exc}"[:160], False
    return Result(name, ok, required, time.monotonic() - started, detail)


async def run_checks(settings: Settings, run_dir: Path) -> list[Result]:
    """Every check against the configured broker, else against a local one started here."""
    base = run_dir / "conformance" / settings.local_broker
    results = []
    if settings.broker_url:
        target, broker = settings, None
    else:
        broker = local_broker(settings, base).start()
        target = settings.replace(broker_url=broker.url, broker_profile=broker.profile)
    try:
        for check in CHECKS:
            required = target.profile in check.claimed_by
            results.append(await timed(check.name, required, check.run(target)))
    finally:
        if broker is not None:
            broker.stop()
    if not settings.broker_url:
        required = settings.local_broker == "noida-db"
        run = check_changelog_after_restart(settings, base)
        results.append(await timed(RESTART_CHECK, required, run))
    return results


def print_checks(results: list[Result], console: Console) -> None:
    table = Table("check", "result", "time", "detail")
    for r in results:
        verdict = "pass" if r.ok else ("FAIL" if r.required else "fail (not claimed)")
        table.add_row(r.name, verdict, f"{r.seconds:.2f} s", r.detail)
    console.print(table)
