"""The broker conformance checks (``conformance.py`` runs and reports them): each a small timed
probe of one Kafka behaviour the pipeline depends on, returning what it saw or raising
``CheckFailed``."""

import asyncio
import contextlib
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest

from pipeline.runtime.broker import LocalBroker, local_broker
from pipeline.runtime.kafka import client_options, make_consumer, make_producer
from pipeline.runtime.settings import Settings

#: Bound on a group join, a rebalance or a rejoin on a conformant broker (noida-db: ~0.3 s;
#: Tansu holds each join for session_timeout/2).
JOIN_BOUND_SECONDS = 3.0
SESSION_MS = 6000
RECORDS = 1000


class CheckFailed(AssertionError):
    pass


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise CheckFailed(what)


def _name(kind: str) -> str:
    return f"conformance-{kind}-{uuid.uuid4().hex[:8]}"


async def _admin(settings: Settings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    return admin


async def _fill(settings: Settings, topic: str, partitions: int, n: int = RECORDS) -> None:
    """``n`` records spread over the partitions, in multi-record batches."""
    producer = make_producer(settings)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, b"v%d" % i, key=b"k%d" % (i % 50), partition=i % partitions)
            for i in range(n)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _joined(consumer: AIOKafkaConsumer, timeout: float) -> float:
    """Start ``consumer``; seconds until it has partitions assigned, or CheckFailed."""
    started = time.monotonic()
    try:
        await asyncio.wait_for(consumer.start(), timeout)
    except TimeoutError:
        await _stop(consumer)
        raise CheckFailed(f"consumer not started after {timeout:.0f} s") from None
    while not consumer.assignment():
        if time.monotonic() - started > timeout:
            await _stop(consumer)
            raise CheckFailed(f"no partitions assigned after {timeout:.0f} s")
        await consumer.getmany(timeout_ms=50)
    return time.monotonic() - started


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """Stop, bounded: a consumer stuck in a join that never completes may not stop at all."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(consumer.stop(), 5.0)


def _group_consumer(settings: Settings, topic: str, group: str) -> AIOKafkaConsumer:
    return make_consumer(
        settings,
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=SESSION_MS,
        heartbeat_interval_ms=1000,
        rebalance_timeout_ms=10_000,
    )


async def check_topics(settings: Settings) -> str:
    admin = await _admin(settings)
    plain, compacted = _name("topic"), _name("changelog")
    try:
        await admin.create_topics(
            [
                NewTopic(plain, 4, 1),
                NewTopic(compacted, 2, 1, topic_configs={"cleanup.policy": "compact"}),
            ]
        )
        described = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
    finally:
        await admin.close()
    expect(described.get(plain) == 4, f"4 partitions asked, {described.get(plain)} made")
    expect(described.get(compacted) == 2, "2 partitions asked")
    return "4 and 2 partitions made"


async def check_compaction(settings: Settings) -> str:
    """A changelog created compacted reads back as compacted (DescribeConfigs)."""
    admin = await _admin(settings)
    compacted = _name("changelog")
    try:
        compact = {"cleanup.policy": "compact"}
        await admin.create_topics([NewTopic(compacted, 2, 1, topic_configs=compact)])
        resource = ConfigResource(ConfigResourceType.TOPIC, compacted, {"cleanup.policy": None})
        responses = await admin.describe_configs([resource])
    finally:
        await admin.close()
    entries = [e for r in responses for res in r.resources for e in res[4]]
    policy = next((e[1] for e in entries if e[0] == "cleanup.policy"), None)
    expect(policy == "compact", f"cleanup.policy reads {policy!r}")
    return "cleanup.policy=compact"


async def check_end_offsets(settings: Settings) -> str:
    topic = await _new_topic(settings, "offsets", 4)
    await _fill(settings, topic, 4)
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(4)])
    finally:
        await consumer.stop()
    expect(sum(ends.values()) == RECORDS, f"end offsets sum to {sum(ends.values())}, not 1000")
    return f"{RECORDS} records in batches, end offsets right"


async def _new_topic(settings: Settings, kind: str, partitions: int) -> str:
    topic = _name(kind)
    admin = await _admin(settings)
    await admin.create_topics([NewTopic(topic, partitions, 1)])
    await admin.close()
    return topic


async def _topic_with_records(settings: Settings, partitions: int) -> str:
    topic = await _new_topic(settings, "group", partitions)
    await _fill(settings, topic, partitions)
    return topic


async def check_group_times(settings: Settings) -> str:
    topic, group = await _topic_with_records(settings, 2), _name("g")
    first = _group_consumer(settings, topic, group)
    second = _group_consumer(settings, topic, group)
    try:
        join = await _joined(first, 30.0)
        rebalance = await _joined(second, 30.0)
        await _stop(second)
        third = _group_consumer(settings, topic, group)
        try:
            rejoin = await _joined(third, 30.0)
        finally:
            await _stop(third)
    finally:
        await _stop(first)
    slowest = max(join, rebalance, rejoin)
    detail = f"join {join:.2f} s, rebalance {rebalance:.2f} s, rejoin {rejoin:.2f} s"
    expect(slowest <= JOIN_BOUND_SECONDS, f"{detail} (bound {JOIN_BOUND_SECONDS:.0f} s)")
    return detail


async def check_commit_resume(settings: Settings) -> str:
    topic, group = await _topic_with_records(settings, 1), _name("g")
    tp = TopicPartition(topic, 0)
    first = _group_consumer(settings, topic, group)
    try:
        await _joined(first, 30.0)
        await first.commit({tp: 400})
    finally:
        await _stop(first)
    second = _group_consumer(settings, topic, group)
    try:
        await _joined(second, 30.0)
        batch = await second.getmany(tp, timeout_ms=5000)
        offsets = [r.offset for r in batch.get(tp, [])]
    finally:
        await _stop(second)
    expect(bool(offsets) and offsets[0] == 400, f"resumed at {offsets[:1]}, not 400")
    return "committed 400, resumed at 400"


_DEAD_MEMBER = """
import asyncio, sys
from aiokafka import AIOKafkaConsumer
async def main():
    c = AIOKafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1], group_id=sys.argv[3],
                         session_timeout_ms=%d, heartbeat_interval_ms=1000)
    await c.start()
    while not c.assignment():
        await c.getmany(timeout_ms=50)
    print("joined", flush=True)
    await asyncio.sleep(300)
asyncio.run(main())
""".replace("%d", str(SESSION_MS))


async def check_dead_member_evicted(settings: Settings) -> str:
    """A member killed without leaving is dropped after its session timeout, so a new member
    gets the partitions (noida-db 0.2.3 never drops it; runtime/group_member.py)."""
    topic, group = await _topic_with_records(settings, 1), _name("g")
    servers = ",".join(settings.bootstrap_servers())
    command = [sys.executable, "-c", _DEAD_MEMBER, servers, topic, group]
    member = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert member.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(member.stdout.readline), 30.0)
        expect(line.strip() == b"joined", "the member to kill did not join")
    finally:
        member.kill()
        member.wait()
    bound = SESSION_MS / 1000 * 3
    survivor = _group_consumer(settings, topic, group)
    try:
        took = await _joined(survivor, bound)
    finally:
        await _stop(survivor)
    return f"new member assigned {took:.1f} s after the kill (session {SESSION_MS / 1000:.0f} s)"


#: The max wait of the empty fetches ``check_empty_fetch_held`` sends.
FETCH_WAIT_MS = 500


async def check_empty_fetch_held(settings: Settings) -> str:
    """A fetch of an empty partition is answered after its max wait, not at once (the long poll
    that keeps an idle consumer cheap; pipeline/runtime/empty_fetch.py is the client's fix for a
    broker without it). Raw fetch requests: the consumer's fetcher carries that fix."""
    topic = await _new_topic(settings, "idle", 1)
    client = AIOKafkaClient(**client_options(settings))
    await client.bootstrap()
    try:
        await client.force_metadata_update()
        node = client.cluster.leader_for_partition(TopicPartition(topic, 0))
        expect(node is not None, "no leader for the new topic's partition")
        answers = []
        for _ in range(3):
            started = time.monotonic()
            await client.send(
                node, FetchRequest(FETCH_WAIT_MS, 1, 1 << 20, 0, [(topic, [(0, 0, 1 << 20)])])
            )
            answers.append(time.monotonic() - started)
    finally:
        await client.close()
    times = ", ".join(f"{a * 1000:.0f}" for a in answers)
    detail = f"answered in {times} ms (max wait {FETCH_WAIT_MS} ms)"
    expect(min(answers) >= 0.8 * FETCH_WAIT_MS / 1000, detail)
    return detail


async def check_idempotent(settings: Settings) -> str:
    topic = _name("idempotent")
    producer = make_producer(settings, enable_idempotence=True)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, b"x%d" % i) for i in range(100)])
    finally:
        await producer.stop()
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, 0)])
    finally:
        await consumer.stop()
    expect(sum(ends.values()) == 100, f"{sum(ends.values())} records, not 100")
    return "100 records, no duplicates"


async def check_transactions(settings: Settings) -> str:
    topic, source, group = _name("tx"), await _topic_with_records(settings, 1), _name("g")
    producer = make_producer(settings, transactional_id=_name("txid"))
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed")
            await producer.send_offsets_to_transaction({TopicPartition(source, 0): 7}, group)
        try:
            async with producer.transaction():
                await producer.send_and_wait(topic, b"aborted")
                raise CheckFailed("abort")
        except CheckFailed:
            pass
    finally:
        await producer.stop()
    consumer = make_consumer(
        settings,
        topic,
        group_id=None,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: list[bytes] = []
    try:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                seen.extend(r.value for r in batch if r.value is not None)
    finally:
        await consumer.stop()
    expect(seen == [b"committed"], f"read_committed saw {seen}")
    checker = _group_consumer(settings, source, group)
    await checker.start()
    try:
        committed = await checker.committed(TopicPartition(source, 0))
    finally:
        await checker.stop()
    expect(committed == 7, f"offset committed in the transaction reads {committed}")
    return "commit visible, abort hidden, offsets in the transaction"


async def check_kcat(settings: Settings) -> str:
    kcat = shutil.which("kcat")
    expect(kcat is not None, "kcat is not installed (make test installs it)")
    topic = await _topic_with_records(settings, 2)
    servers = ",".join(settings.bootstrap_servers())
    command = [str(kcat), "-C", "-b", servers, "-t", topic, "-o", "beginning", "-e", "-q"]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, timeout=30)
    lines = done.stdout.splitlines()
    expect(done.returncode == 0, done.stderr.decode(errors="replace").strip()[-200:])
    expect(len(lines) == RECORDS, f"kcat read {len(lines)} of {RECORDS}")
    return f"kcat read {RECORDS} records"


async def check_changelog_after_restart(settings: Settings, run_dir: Path) -> str:
    """What faust's table recovery does after a broker restart: a compacted changelog written in
    batches is read back from the start to its end offsets, every key's last value intact."""
    broker = local_broker(settings, run_dir / "restart").start()
    try:
        own = settings.replace(broker_url=broker.url, broker_profile=broker.profile)
        topic = _name("table-changelog")
        admin = await _admin(own)
        compact = {"cleanup.policy": "compact"}
        await admin.create_topics([NewTopic(topic, 2, 1, topic_configs=compact)])
        await admin.close()
        await _fill(own, topic, 2)
        broker.stop()
        broker = LocalBroker(
            port=broker.port,
            log_file=broker.log_file,
            engine=broker.engine,
            data_dir=broker.data_dir,
        ).start()
        consumer = make_consumer(own, group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(2)]
            ends = await consumer.end_offsets(tps)
            expect(sum(ends.values()) > 0, "the changelog is empty after the restart")
            consumer.assign(tps)
            last: dict[bytes, bytes] = {}
            deadline = time.monotonic() + 20.0
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                expect(time.monotonic() < deadline, "could not read up to the end offsets")
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    last.update((r.key, r.value) for r in batch if r.key and r.value)
        finally:
            await consumer.stop()
        last_of = {i % 50: i for i in range(RECORDS)}  # key k%50 was last written with v<i>
        want = {b"k%d" % k: b"v%d" % i for k, i in last_of.items()}
        expect(last == want, f"{sum(last.get(k) == v for k, v in want.items())} of 50 keys right")
    finally:
        broker.stop()
    return "50 keys recovered from 1000 records"
