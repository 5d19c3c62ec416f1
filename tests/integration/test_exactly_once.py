"""Exactly-once (issue 15): a worker SIGKILLed mid-stream, then restarted, leaves each alert event
(alert_id, revision) on the alert topic once, for a reader with isolation read_committed; and the
alert sequence is the clean run's (the same model code in one process, pipeline.tools.offline).

At-least-once passes test_faults.py with *recognisable* repeats; here a repeat fails. The kill
comes right after the first alert is sent, well inside faust's commit interval (2.8 s), so the
killed worker's last batches are uncommitted: at-least-once (or faust's transactions without
pipeline/runtime/exactly_once.py) writes their outputs again after the restart."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from pipeline.runtime.kafka import topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import wait_until_settled
from pipeline.tools.produce import produce_raw
from schemas import Alert

from .conftest import StartWorker
from .helpers import metric, read_topic, wait_for
from .test_faults import scenario

pytestmark = pytest.mark.integration


async def test_worker_killed_mid_stream_yields_each_alert_event_exactly_once(
    settings: Settings, start_worker: StartWorker
) -> None:
    if not settings.broker_has_transactions:
        pytest.skip(f"the {settings.profile} broker profile has no transactions")
    eos = settings.replace(processing_guarantee="exactly_once")
    messages, expected = scenario()
    cut = next(i for i, raw in enumerate(messages) if b'"g60"' in raw)
    first = await start_worker(eos)
    await produce_raw(eos, messages[:cut])
    await produce_raw(eos, messages[cut : cut + 300])  # in flight when the worker dies
    await wait_for(
        lambda: metric(first, "crisiswatch_alerts_emitted_total") >= 1,
        60.0,
        "the opened alert",
        interval=0.05,
    )
    assert first.kill() == -9  # SIGKILL: no shutdown, no final commit

    second = await start_worker(eos)
    await produce_raw(eos, messages[cut + 300 :])
    await asyncio.to_thread(wait_until_settled, second, len(messages) - cut - 300, 90.0)
    records = await read_topic(eos, topic_names(eos).alerts, expected=len(expected) + 1)
    alerts = [Alert.from_bytes(r.value) for r in records]
    # What a reader that does not skip aborted transactions sees, to explain a failure.
    everything = await read_topic(
        eos.replace(processing_guarantee="at_least_once"), topic_names(eos).alerts, 0, 1.0
    )
    seen = [(r.partition, r.offset, Alert.from_bytes(r.value).revision) for r in everything]

    repeats = {k: n for k, n in Counter((a.alert_id, a.revision) for a in alerts).items() if n > 1}
    assert not repeats, f"alert events delivered more than once: {repeats}"
    # Per subject (the alert topic's key, so its order), the clean run's sequence.
    for subject in {a.subject for a in expected} | {a.subject for a in alerts}:
        got = [a.model_dump() for a in alerts if a.subject == subject]
        want = [a.model_dump() for a in expected if a.subject == subject]
        differ = [
            (g["revision"], k, g[k], w[k])
            for g, w in zip(got, want, strict=False)
            for k in g
            if g[k] != w.get(k)
        ]
        assert got == want, f"{subject}: read_committed {len(got)}, all {seen}; {differ}"
