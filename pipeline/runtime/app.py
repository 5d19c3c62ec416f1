"""The faust App, its topics and tables, built from Settings with the broker profile applied."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, NoReturn

import faust
from aiokafka import TopicPartition
from aiokafka.protocol.group import JoinGroupRequest
from mode.utils.logging import level_number

from pipeline.ingest.watchlist import WatchList, WatchListError
from pipeline.runtime import (
    empty_fetch,
    exactly_once,
    faust_patch,
    group_rejoin,
    metrics,
    read_committed,
    topics,
)
from pipeline.runtime.broker_watch import BrokerWatch
from pipeline.runtime.data_producer import DataProducer
from pipeline.runtime.group_member import evict_dead_members, record_member
from pipeline.runtime.kafka import TopicLayoutError, committed_ends, ensure_topics, fetched_ends
from pipeline.runtime.security import faust_credentials
from pipeline.runtime.settings import Settings, SettingsError

log = logging.getLogger(__name__)


class PipelineApp(faust.App):
    """faust's App, with the worker's own preparation before its consumer joins the group."""

    async def on_first_start(self) -> None:
        await super().on_first_start()
        await prepare_worker()


def create_app(settings: Settings) -> faust.App:
    # faust's consumer spends ~150 us per record on tasks a record rarely needs, and waits up to
    # 1.5 s on an empty fetch whatever it is told (see the module).
    faust_patch.apply(
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        end_offsets=lambda consumer, committed: committed_ends(settings, committed),
    )
    # Exactly-once needs fixes to faust's transactions; inert in at-least-once mode.
    exactly_once.apply()
    # noida-db answers an empty fetch at once: without a pause every idle consumer spins.
    empty_fetch.apply()
    # A member that meets a newer generation keeps its id, and one given no assignment rejoins:
    # otherwise either can hang a group on noida-db (see the module).
    group_rejoin.apply()
    # faust's consumer reads read_committed in exactly-once mode: noida-db needs this fix then.
    if settings.exactly_once:
        read_committed.apply()
    group = settings.group_timing()
    options: dict[str, Any] = {
        "broker": settings.resolved_broker_url(),
        # faust would read BROKER_URL, WEB_PORT... from the environment: Settings is the only
        # reader of the environment, so faust gets an empty one.
        "env": {},
        "store": "memory://",  # tables live in memory, rebuilt from their changelog on restart
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        "consumer_auto_offset_reset": "earliest",
        "broker_session_timeout": group["session_timeout"],
        "broker_heartbeat_interval": group["heartbeat_interval"],
        "web_enabled": False,
        "web_bind": "127.0.0.1",
        "web_host": "127.0.0.1",
        "datadir": str(settings.state_dir / "worker"),
        "key_serializer": "raw",
        "value_serializer": "raw",
        # SASL/SSL for faust's consumer and producer (None: PLAINTEXT), as for the aiokafka ones.
        "broker_credentials": faust_credentials(settings),
        "processing_guarantee": settings.processing_guarantee,
    }
    producer = settings.producer_options()
    if "max_batch_size" in producer:
        options["producer_max_batch_size"] = producer["max_batch_size"]
    return PipelineApp(settings.app_id, **options)


def _configuration() -> tuple[Settings, WatchList]:
    """Settings and watch list, checked before anything starts: a mistake in either ends the
    command with one line naming it, not a traceback from deep in a worker."""
    try:
        settings = Settings.from_env()
        return settings, WatchList.load(settings.watchlist_file())
    except (SettingsError, WatchListError) as exc:
        raise SystemExit(f"crisiswatch: {exc}") from None


settings, watchlist = _configuration()
app = create_app(settings)
names = topics.TopicNames.for_prefix(settings.topic_prefix)

posts_raw_topic = app.topic(
    names.posts_raw, key_type=bytes, value_type=bytes, partitions=settings.raw_partitions
)
#: Records the signals stream may hold unprocessed. faust's default (stream_buffer_maxsize, 4096)
#: counts records, and a posts record holds a batch's posts of a subject (up to 500, ~200 KB;
#: pipeline/ingest/subject_posts.py): 64 of them keep the stage fed within ~13 MB.
POSTS_BUFFER_RECORDS = 64
posts_topic = app.topic(names.posts, key_type=bytes, value_type=bytes, maxsize=POSTS_BUFFER_RECORDS)
#: Sends to the data topics (posts, posts.dlq, signals, alerts) go through this, batched.
data_producer = DataProducer(settings, app)
app.service(data_producer)  # type: ignore[arg-type]  # an instance is accepted too


@app.task
async def start_metrics_endpoint() -> None:
    # At --loglevel warn or above, faust's worker sets the root logger to DEBUG so that its
    # startup spinner turns on every record: every debug line of aiokafka (one per record
    # sent) was then built and dropped, ~2% of a busy worker. The worker is up by now.
    level = level_number(settings.log_level.upper())
    logging.getLogger().setLevel(level if isinstance(level, int) else logging.CRITICAL)
    metrics.initialise_series(sorted(watchlist.subjects))
    metrics.serve(settings.metrics_host, settings.metrics_port)


def pipeline_topics() -> list[str]:
    """Every topic a worker reads or writes: the data topics and its tables' changelogs."""
    return [*names.__dict__.values(), *app.tables.changelog_topics]


async def prepare_worker() -> None:
    """Before the consumer subscribes: create or verify every topic with the configured
    partitions (a topic the broker auto-created on subscription would get its default count),
    and remove this state directory's dead workers from the group (runtime/group_member.py).
    A topic laid out against the settings stops the worker with one line, exit code 2."""
    if settings.exactly_once:
        exactly_once.check_in_order(app)
    try:
        await ensure_topics(settings, pipeline_topics())
    except TopicLayoutError as exc:
        # faust routes sys.stderr through its logger by now: write the one line to fd 2 itself.
        os.write(2, f"crisiswatch worker: {exc}\n".encode())
        os._exit(2)  # nothing has started yet: no consumer, no producer, nothing to flush
    await evict_dead_members(settings)


@app.on_partitions_assigned.connect  # type: ignore[arg-type]  # faust's stub wants a sync type
async def _record_group_member(sender: Any, *args: Any, **kwargs: Any) -> None:
    record_member(settings, _group_coordinator().member_id)


def _group_coordinator() -> Any:
    # faust exposes no member id: its aiokafka consumer's group coordinator holds it.
    consumer: Any = app.consumer
    return consumer._thread._ensure_consumer()._coordinator


async def lost_records() -> list[str]:
    """Partitions whose end offset is now at or below a record this worker already processed:
    the broker came back without them (memory storage, or the unsynced tail of a crash)."""
    consumer: Any = app.consumer
    read = {
        TopicPartition(tp.topic, tp.partition): n
        for tp, n in faust_patch.delivered_offsets(consumer).items()
    }
    if not read:
        return []
    ends = await fetched_ends(settings, read)
    return [
        f"{tp.topic}[{tp.partition}] ends at offset {ends[tp]}, read up to {n}"
        for tp, n in sorted(read.items())
        if tp in ends and ends[tp] <= n
    ]


@app.on_partitions_assigned.connect  # type: ignore[arg-type]  # faust's stub wants a sync type
async def _check_records_after_rebalance(sender: Any, *args: Any, **kwargs: Any) -> None:
    # A broker that lost its log also lost the group: the rebalance that follows can come before
    # the broker watch notices the restart (or the restart is quicker than its probe). Checked
    # beside the rebalance, not inside it: the end offsets come through the consumer's thread,
    # which is waiting for this callback.
    app.add_future(_records_checked())


async def _records_checked() -> None:
    try:
        await exit_if_records_lost()
    except Exception as exc:  # the broker went away again: its watch checks when it is back
        log.warning("could not compare read positions with the broker's end offsets: %r", exc)


async def exit_if_records_lost() -> None:
    lost = await lost_records()
    if lost:
        await _exit_restart(
            "the broker came back without records this worker had read (" + "; ".join(lost) + ")"
        )


async def _broker_back() -> None:
    """Re-create missing topics; if the broker lost records this worker had read, exit.

    Issue 16, defect 4: a Tansu killed while the worker was busy came back empty; the worker's
    fetch positions and table recovery offsets pointed past the new ends, so it sat in recovery
    for good, taking nothing, with a lag of 0. Its in-memory position is wrong for that broker:
    exiting (code 3) lets a supervisor restart it from what the broker still has."""
    try:
        await ensure_topics(settings, pipeline_topics())
    except TopicLayoutError as exc:
        # The broker came back without the topics, and a client's metadata request had them
        # auto-created with its default layout: retrying cannot mend that, a restart says so.
        await _exit_restart(f"the broker came back with topics this worker cannot use ({exc})")
    await exit_if_records_lost()


async def _exit_restart(reason: str) -> NoReturn:
    line = f"crisiswatch worker: {reason}: exiting with code 3 to restart from the broker's state"
    os.write(2, f"{line}\n".encode())
    if settings.leave_of_a_joining_member_works:
        await _record_rejoining_member()
    os._exit(3)


async def _record_rejoining_member(timeout: float = 3.0) -> None:
    """Record the member id this worker is rejoining with, for its successor to evict.

    A broker that lost the group makes the worker rejoin; exiting then leaves a member that never
    completes the join, and the broker holds the next join for it (noida-db for about a minute,
    Kafka for a session timeout): the restarted worker was not up within 60 s. Recorded as at
    every assignment (group_member.py), it is removed by the worker that replaces this one. The
    id is known once the broker answers the first JoinGroup: wait that long, no longer."""
    coordinator = _group_coordinator()
    unknown = JoinGroupRequest.UNKNOWN_MEMBER_ID
    for _ in range(int(timeout / 0.05)):
        if coordinator.member_id != unknown:
            break
        await asyncio.sleep(0.05)
    if coordinator.member_id != unknown:
        record_member(settings, coordinator.member_id)


#: Logs clearly when the broker goes away and comes back, and re-creates lost topics then.
broker_watch = BrokerWatch(settings.bootstrap_servers, _broker_back)
app.service(broker_watch)  # type: ignore[arg-type]
