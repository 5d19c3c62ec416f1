"""A group member rejoins without leaving a ghost and without dying on an empty assignment
(pipeline/runtime/group_rejoin.py), on the real broker of the test session.

Without the fixes, on noida-db 0.2.3: the first test hung (its first member's commit met
ILLEGAL_GENERATION, aiokafka dropped the member id, and the group waited for the old id for
ever); in the second, the member left out of the leader's assignment failed to decode the empty
answer and its coordinator routine died, so it never got partitions."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.group_coordinator import CoordinatorGroupRebalance, GroupCoordinator
from aiokafka.protocol.commit import OffsetCommitResponse_v2, OffsetFetchResponse_v1
from aiokafka.protocol.group import HeartbeatResponse_v1, SyncGroupResponse_v0

from pipeline.runtime import group_rejoin
from pipeline.runtime.kafka import ensure_topics, make_consumer
from pipeline.runtime.settings import Settings

PARTITIONS = 4
BOUND_SECONDS = 40.0  # noida-db holds a sync for up to 10 s; a hung group never gets there


async def _topic(settings: Settings) -> str:
    topic = f"{settings.topic_prefix}rejoin-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic])  # settings.partitions each
    return topic


async def _balanced(
    consumers: list[AIOKafkaConsumer], partitions: int, start: AIOKafkaConsumer | None = None
) -> bool:
    """Start ``start``, then poll all until each has partitions and together they hold each
    once, within the bound (on a stuck group a start or a poll may not return at all)."""
    try:
        async with asyncio.timeout(BOUND_SECONDS):
            if start is not None:
                await start.start()
            while True:
                await asyncio.gather(*(c.getmany(timeout_ms=50) for c in consumers))
                held = [c.assignment() for c in consumers]
                if all(held) and sum(map(len, held)) == partitions == len(set().union(*held)):
                    return True
    except TimeoutError:
        return False


async def _stop(consumers: list[AIOKafkaConsumer]) -> None:
    for consumer in consumers:  # bounded: a consumer of a stuck group may not stop at all
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(consumer.stop(), 10)


@pytest.mark.integration
async def test_a_member_whose_commit_meets_a_new_generation_keeps_its_id(
    settings: Settings,
) -> None:
    settings = settings.replace(partitions=PARTITIONS)
    topic = await _topic(settings)
    group = f"{settings.app_id}-commit"
    # Auto-commit: the first member commits as it gives its partitions up, after the group
    # has moved to the generation the second member joined.
    first = make_consumer(settings, topic, group_id=group, auto_commit_interval_ms=100)
    second = make_consumer(settings, topic, group_id=group, auto_commit_interval_ms=100)
    try:
        assert await _balanced([first], PARTITIONS, start=first)
        member_id = first._coordinator.member_id
        assert await _balanced([first, second], PARTITIONS, start=second)
        assert first._coordinator.member_id == member_id
    finally:
        await _stop([first, second])


@pytest.mark.integration
async def test_a_member_left_out_of_the_leaders_assignment_rejoins(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.replace(partitions=PARTITIONS)
    topic = await _topic(settings)
    group = f"{settings.app_id}-omit"
    perform = GroupCoordinator._perform_assignment
    omitted: list[str] = []

    async def leaves_one_out(self: Any, response: Any) -> dict[str, Any]:
        """The leader's first two-member assignment names only itself: the broker answers the
        other member's SyncGroup with no assignment bytes."""
        assignments: dict[str, Any] = await perform(self, response)
        if len(assignments) > 1 and not omitted:
            omitted.append(next(m for m in assignments if m != self.member_id))
            del assignments[omitted[0]]
        return assignments

    monkeypatch.setattr(GroupCoordinator, "_perform_assignment", leaves_one_out)
    consumers = [
        make_consumer(settings, topic, group_id=group, enable_auto_commit=False) for _ in range(2)
    ]
    try:
        assert await _balanced(consumers[:1], PARTITIONS, start=consumers[0])
        # Each holds partitions: the one left out asked again and was named the second time.
        assert await _balanced(consumers, PARTITIONS, start=consumers[1])
        assert omitted and omitted[0] in {c._coordinator.member_id for c in consumers}
    finally:
        await _stop(consumers)


def test_only_a_stale_generation_keeps_the_member_id() -> None:
    illegal, unknown = 22, 25
    assert group_rejoin.keeps_member_id(HeartbeatResponse_v1(0, illegal))
    assert not group_rejoin.keeps_member_id(HeartbeatResponse_v1(0, unknown))
    assert not group_rejoin.keeps_member_id(HeartbeatResponse_v1(0, 0))
    commit = OffsetCommitResponse_v2
    assert group_rejoin.keeps_member_id(commit([("t", [(0, 0), (1, illegal)])]))
    assert not group_rejoin.keeps_member_id(commit([("t", [(0, unknown), (1, illegal)])]))
    # Only those answers: an OffsetFetch answer's partitions carry (offset, metadata, error).
    fetched = OffsetFetchResponse_v1([("t", [(0, illegal, "", 0)])])
    assert not group_rejoin.keeps_member_id(fetched)
    assert group_rejoin.keeps_member_id(SyncGroupResponse_v0(illegal, b""))


def test_the_fixes_are_installed_and_idempotent() -> None:
    group_rejoin.apply()
    group_rejoin.apply()
    assert GroupCoordinator.reset_generation is group_rejoin.reset_generation
    assert GroupCoordinator._send_req is group_rejoin._send_req
    sync = CoordinatorGroupRebalance._send_sync_group_request
    assert sync is group_rejoin._send_sync_group_request
