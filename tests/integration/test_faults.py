"""Faults against a real broker: a worker killed mid-stream, and an unreachable webhook (the
broker going away and coming back is in test_broker_faults.py). The reference for alerts is the
same model code run in one process (pipeline.tools.offline), as in test_alerts.py."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time

import orjson
import pytest

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.broker import free_port
from pipeline.runtime.kafka import topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import wait_until_settled
from pipeline.tools.offline import run_offline
from pipeline.tools.produce import produce_raw, produce_to
from pipeline.tools.scenario import crisis_scenario, encoded
from schemas import Alert

from .conftest import StartWorker
from .helpers import metric, read_topic, wait_for

pytestmark = pytest.mark.integration


def scenario() -> tuple[list[bytes], list[Alert]]:
    posts, _ = crisis_scenario(others=("@Delta",))
    messages = encoded(posts)
    return messages, run_offline(messages, WatchList.load(Settings().watchlist_file())).alerts


def events(records: list[bytes]) -> dict[tuple[str, int], bytes]:
    """Alert records by (alert_id, revision); a redelivered event must be the same bytes."""
    by_id: dict[tuple[str, int], bytes] = {}
    for raw in records:
        alert = Alert.from_bytes(raw)
        key = (alert.alert_id, alert.revision)
        assert by_id.setdefault(key, raw) == raw, f"{key} delivered twice with different content"
    return by_id


def reference(expected: list[Alert]) -> dict[tuple[str, int], dict[str, object]]:
    return {(a.alert_id, a.revision): a.model_dump() for a in expected}


async def test_worker_killed_mid_stream_recovers_without_losing_or_duplicating_alerts(
    settings: Settings, start_worker: StartWorker
) -> None:
    messages, expected = scenario()
    # Kill after the crisis opened, before it escalated to critical and resolved.
    cut = next(i for i, raw in enumerate(messages) if b'"g60"' in raw)
    first = await start_worker(settings)
    await produce_raw(settings, messages[:cut])
    await produce_raw(settings, messages[cut : cut + 300])  # in flight when the worker dies
    await wait_for(
        lambda: metric(first, "crisiswatch_alerts_emitted_total") >= 1, 60.0, "the opened alert"
    )
    assert first.kill() == -9  # SIGKILL: no shutdown, no final commit

    second = await start_worker(settings)
    await produce_raw(settings, messages[cut + 300 :])
    topic = topic_names(settings).alerts
    await asyncio.to_thread(wait_until_settled, second, len(messages) - cut - 300, 90.0)
    records = await read_topic(settings, topic, expected=len(expected), timeout=60.0)
    got = events([r.value for r in records])
    assert {k: Alert.from_bytes(v).model_dump() for k, v in got.items()} == reference(expected)


async def test_unreachable_webhook_does_not_stall_the_alert_feed(settings: Settings) -> None:
    # The webhook runs in `crisiswatch alerts`, not in the worker: the alert topic is enough.
    _, expected = scenario()
    topic = topic_names(settings).alerts
    await produce_to(settings, topic, [a.to_bytes() for a in expected], key=b"united")

    closed = free_port()  # nothing listens there
    env = settings.replace(webhook_timeout_seconds=0.5, webhook_attempts=2).child_environment()
    command = [sys.executable, "-m", "pipeline.cli", "alerts", "--from-beginning", "--json"]
    command += ["--idle-timeout", "5", "--webhook", f"http://127.0.0.1:{closed}/hook"]
    started = time.monotonic()
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, timeout=60, text=True
    )
    elapsed = time.monotonic() - started
    printed = [orjson.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [(a["alert_id"], a["revision"]) for a in printed] == [
        (a.alert_id, a.revision) for a in expected
    ], done.stderr[-2000:]
    report = re.search(r"webhook: (\d+) delivered, (\d+) failed, (\d+) dropped", done.stderr)
    assert report, done.stderr[-2000:]
    delivered, failed, dropped = map(int, report.groups())
    assert delivered == 0 and failed + dropped == len(expected), report.group(0)
    assert elapsed < 40, f"alerts took {elapsed:.0f}s with an unreachable webhook"
