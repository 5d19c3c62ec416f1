"""A rebalance in the middle of a stream: the worker that keeps a subject reads its models back
from its own table, and must go on from exactly the state it had. Its signal reports after
the rebalance are compared with the in-process reference's, report by report.

The hazard: the table's memory store holds the objects written to it, and a part's snapshot is
the live state object, later mutated in place. A reload that applied the snapshot's deltas to
that object again would corrupt it (a list's dropped items dropped twice, entries moved out of
order). It holds because faust re-reads a kept partition's changelog at every rebalance, so the
reload gets fresh objects; with the store made to keep the objects it holds (a scratch patch of
``memory.Store.apply_changelog_batch``), 877 of 1,665 reports here differed."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.ingest.watchlist import WatchList
from pipeline.runtime.broker import free_port
from pipeline.runtime.kafka import ensure_topics, fetched_ends, make_producer, topic_names
from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import wait_until_settled
from pipeline.tools.offline import run_offline
from pipeline.tools.produce import produce_raw
from pipeline.tools.scenario import crisis_scenario, encoded
from schemas.signals import SubjectSignals

from .conftest import StartWorker
from .helpers import TopicPartition, metric, read_topic, wait_for

pytestmark = pytest.mark.integration


async def test_a_subject_kept_through_a_rebalance_reports_as_the_reference(
    settings: Settings, start_worker: StartWorker
) -> None:
    assert settings.partitions == 2
    posts, _ = crisis_scenario(others=("@Delta", "@SouthwestAir", "@AmericanAir"))
    messages = encoded(posts)
    reference = run_offline(messages, WatchList.load(settings.watchlist_file()), keep_reports=True)
    expected = {(r.subject, r.as_of): r.model_dump() for r in reference.kept_reports}
    cut = len(messages) // 2

    first = await start_worker(settings)
    await produce_raw(settings, messages[:cut])
    await asyncio.to_thread(wait_until_settled, first, cut, 90.0)
    before = metric(first, "crisiswatch_signals_posts_total")
    second = await start_worker(settings.replace(metrics_port=free_port()))
    await asyncio.sleep(8.0 if settings.is_tansu else 4.0)  # in the group: it rebalanced
    await produce_raw(settings, messages[cut:])

    def through_signals() -> float:
        return sum(metric(w, "crisiswatch_signals_posts_total") for w in (first, second))

    def routed() -> float:
        return sum(metric(w, "crisiswatch_subject_posts_total") for w in (first, second))

    await wait_for(lambda: routed() > 0 and through_signals() >= routed(), 90.0, "all posts")
    # Both took part of the rest: the first kept a partition through the rebalance.
    assert metric(first, "crisiswatch_signals_posts_total") > before
    assert metric(second, "crisiswatch_signals_posts_total") > 0
    records = await read_topic(
        settings, topic_names(settings).signals, expected=len(expected), timeout=60.0
    )
    got: dict[tuple[str, object], dict[str, object]] = {}
    for record in records:
        report = SubjectSignals.from_bytes(record.value)
        got[(report.subject, report.as_of)] = report.model_dump()  # a redelivery: the latest
    differing = sorted(
        (subject, str(as_of))
        for (subject, as_of), report in expected.items()
        if got.get((subject, as_of)) != report
    )
    assert not differing, f"{len(differing)} of {len(expected)} reports differ: {differing[:5]}"


async def test_end_offsets_after_a_rebalance_come_from_a_fetch(settings: Settings) -> None:
    """What the worker's check after each rebalance compares its read positions with: a
    partition of 500 records written in one batch ends at 500, whatever ListOffsets says
    (Tansu 0.6.0 says 1, and a worker that kept its partitions through a rebalance exited
    there, taking its own position for lost records: the test above, on Tansu)."""
    topic = topic_names(settings).posts_raw
    await ensure_topics(settings, [topic])
    producer = make_producer(settings)
    await producer.start()
    try:
        batch = producer.create_batch()
        for i in range(500):
            assert batch.append(key=None, value=b"%d" % i, timestamp=None) is not None
        await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()
    tp = TopicPartition(topic, 0)
    assert await fetched_ends(settings, {tp: 499}) == {tp: 500}  # the last record: still there
    assert await fetched_ends(settings, {tp: 800}) == {tp: 500}  # past the end: "lost"
