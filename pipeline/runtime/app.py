"""The faust App, its topics and tables, built from Settings with the broker profile applied."""

from __future__ import annotations

import logging
from typing import Any

import faust
from mode.utils.logging import level_number

from pipeline.ingest.watchlist import WatchList, WatchListError
from pipeline.runtime import faust_patch, metrics, topics
from pipeline.runtime.broker_watch import BrokerWatch
from pipeline.runtime.data_producer import DataProducer
from pipeline.runtime.kafka import ensure_topics
from pipeline.runtime.security import faust_credentials
from pipeline.runtime.settings import Settings, SettingsError


def create_app(settings: Settings) -> faust.App:
    # faust's consumer spends ~150 us per record on tasks a record rarely needs (see the module).
    faust_patch.apply()
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
    }
    producer = settings.producer_options()
    if "max_batch_size" in producer:
        options["producer_max_batch_size"] = producer["max_batch_size"]
    return faust.App(settings.app_id, **options)


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
posts_topic = app.topic(names.posts, key_type=bytes, value_type=bytes)
#: Sends to the data topics (posts, posts.dlq, signals, alerts) go through this, batched.
data_producer = DataProducer(settings)
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


async def _recreate_topics() -> None:
    await ensure_topics(settings, [*names.__dict__.values(), *app.tables.changelog_topics])


#: Logs clearly when the broker goes away and comes back, and re-creates lost topics then.
broker_watch = BrokerWatch(settings.bootstrap_servers, _recreate_topics)
app.service(broker_watch)  # type: ignore[arg-type]
