"""The producer for the pipeline's data topics (posts, dead letters, signals, alerts): batched.

faust's own producer writes the table changelogs, and on Tansu it must write one record per
batch (DESIGN.md fault 1: ListOffsets(latest) is wrong after a multi-record batch, which breaks
changelog recovery). One record per batch is one round trip per record per partition, which
capped the whole pipeline at a few hundred posts/s. Nothing reads the data topics' end offsets
to work (consumers resume from committed offsets, new groups from the earliest), so their
records go through this second producer, with ordinary batching.

At-least-once is kept: an agent awaits ``send_all`` (every record acknowledged) before it asks
for its next batch, and faust commits a batch's source offsets only after that. What the fault
still affects on Tansu: end offsets, so consumer-lag figures of these topics and
``crisiswatch alerts --new-only`` (which starts at the end) are approximate there.

Exactly-once (settings.processing_guarantee): a stage's records must commit with the offsets of
the records they came from, so ``send_from`` sends each in the transaction of its source
partition, through faust's transactional producers (pipeline/runtime/exactly_once.py). Records
with no source partition (the feedback agent's, which keeps its own offsets) and at-least-once
mode take this producer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import mode
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from faust.types import TP

from pipeline.runtime.exactly_once import send_in_transactions
from pipeline.runtime.kafka import make_producer
from pipeline.runtime.settings import Settings

#: (topic, key, value)
Record = tuple[str, bytes | None, bytes]

#: make_producer's partitioner (aiokafka's default), which send_all applies itself.
PARTITIONER = DefaultPartitioner()


class DataProducer(mode.Service):
    def __init__(self, settings: Settings, app: Any = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.settings = settings
        #: The faust app whose transactions carry the records (exactly-once only).
        self.app = app
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def _ensure_started(self) -> AIOKafkaProducer:
        # faust starts app services after table recovery, and agents may send before that:
        # whoever sends first starts the producer.
        async with self._starting:
            if self._producer is None:
                producer = make_producer(self.settings)
                await producer.start()
                self._producer = producer
            return self._producer

    async def on_start(self) -> None:
        await self._ensure_started()

    async def on_stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send_all(self, records: Iterable[Record]) -> int:
        """Send every record and wait until all are acknowledged; return how many.

        In batches built here, one per topic-partition (aiokafka's ``create_batch`` and
        ``send_batch``): ``send`` per record cost a coroutine, a future and, on delivery, a
        callback each, and hashed the key in pure Python each time; that was a tenth of a
        worker's time on a dense stream. The partition is the one ``send`` would choose (the
        default partitioner over the topic's partitions), so a key's records keep their partition
        and their order."""
        producer = self._producer or await self._ensure_started()
        batches: dict[tuple[str, int], Any] = {}
        partitions: dict[tuple[str, bytes | None], int] = {}  # a batch's keys repeat (subjects)
        pending = []
        sent = 0
        for topic, key, value in records:
            partition = partitions.get((topic, key))
            if partition is None:
                partition = await self._partition(producer, topic, key)
                if key is not None:
                    partitions[topic, key] = partition
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[topic, partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it
                pending.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[topic, partition] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    # Larger than a batch: alone, as send does (it raises if over the limit).
                    del batches[topic, partition]
                    pending.append(await producer.send(topic, value, key, partition=partition))
            sent += 1
        for (topic, partition), batch in batches.items():
            pending.append(await producer.send_batch(batch, topic, partition=partition))
        if pending:
            await asyncio.gather(*pending)
        return sent

    @staticmethod
    async def _partition(producer: AIOKafkaProducer, topic: str, key: bytes | None) -> int:
        """The partition ``producer.send`` would pick: its partitioner over the topic's
        partitions as aiokafka lists them (keyed: murmur2, as Kafka's Java client does)."""
        await producer.partitions_for(topic)  # waits for the topic's metadata
        cluster = producer.client.cluster
        all_partitions = list(cluster.partitions_for_topic(topic))
        available = list(cluster.available_partitions_for_topic(topic))
        return int(PARTITIONER(key, all_partitions, available))

    async def send_from(self, by_source: Mapping[TP, Iterable[Record]]) -> int:
        """Send records keyed by the source partition of the events they came from (their
        transaction's, exactly-once); wait until all are acknowledged; return how many."""
        if self.settings.exactly_once:
            return await send_in_transactions(self.app, by_source)
        return await self.send_all(r for records in by_source.values() for r in records)
