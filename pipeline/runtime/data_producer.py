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
from faust.types import TP

from pipeline.runtime.exactly_once import send_in_transactions
from pipeline.runtime.kafka import make_producer
from pipeline.runtime.settings import Settings

#: (topic, key, value)
Record = tuple[str, bytes | None, bytes]


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
        """Send every record and wait until all are acknowledged; return how many."""
        producer = self._producer or await self._ensure_started()
        pending = [
            await producer.send(topic, value=value, key=key) for topic, key, value in records
        ]
        if pending:
            await asyncio.gather(*pending)
        return len(pending)

    async def send_from(self, by_source: Mapping[TP, Iterable[Record]]) -> int:
        """Send records keyed by the source partition of the events they came from (their
        transaction's, exactly-once); wait until all are acknowledged; return how many."""
        if self.settings.exactly_once:
            return await send_in_transactions(self.app, by_source)
        return await self.send_all(r for records in by_source.values() for r in records)
