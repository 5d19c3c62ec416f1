"""What the table changelogs carry: records and bytes on the signals and crisis state changelogs.

Every table write is one changelog record, sent by the worker and read back in full by a worker
that restarts (or takes over a partition). ``changelog_bytes`` reads the two changelog topics of
an app id from their start to their end offsets and sums the keys' and values' bytes (what a
recovering worker reads; record and batch headers not counted). A compacted topic may already
have dropped superseded records: the count read is then below the offsets spanned, and
``compacted`` says so (the bytes are then a floor of what was written).

``crisiswatch bench`` divides the bytes by the posts sent (changelog bytes per post).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiokafka import TopicPartition

from pipeline.runtime.kafka import make_consumer
from pipeline.runtime.settings import Settings

#: The faust tables whose changelogs are measured (agents/signals.py, agents/detector.py).
TABLES = ("signals-state", "crisis-state")


def changelog_topic(app_id: str, table: str) -> str:
    """faust's name for a table's changelog topic."""
    return f"{app_id}-{table}-changelog"


@dataclass(frozen=True)
class ChangelogSize:
    topic: str
    records: int
    bytes: int
    #: Offsets spanned (end - start over partitions): more than ``records`` once compacted.
    offsets: int

    @property
    def compacted(self) -> bool:
        return self.records < self.offsets


async def changelog_bytes(
    settings: Settings, tables: tuple[str, ...] = TABLES, timeout: float = 60.0
) -> list[ChangelogSize]:
    """Records and key + value bytes on each table's changelog, as of now (a bounded read)."""
    topics = [changelog_topic(settings.app_id, t) for t in tables]
    consumer = make_consumer(
        settings, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # fresh metadata: a table never written has no topic yet
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return [ChangelogSize(t, 0, 0, 0) for t in topics]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        records = dict.fromkeys(topics, 0)
        size = dict.fromkeys(topics, 0)
        left = {tp for tp in partitions if ends[tp] > starts[tp]}
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            batches = await consumer.getmany(*left, timeout_ms=500, max_records=5_000)
            for tp, batch in batches.items():
                for record in batch:
                    if record.offset >= ends[tp]:
                        continue
                    records[tp.topic] += 1
                    size[tp.topic] += len(record.key or b"") + len(record.value or b"")
                if batch and batch[-1].offset >= ends[tp] - 1:
                    left.discard(tp)
            for tp in list(left):  # compaction may have removed the last offsets
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
        if left:
            raise TimeoutError(f"changelogs not read to their end in {timeout}s: {sorted(left)}")
        return [
            ChangelogSize(
                t,
                records[t],
                size[t],
                sum(ends[tp] - starts[tp] for tp in partitions if tp.topic == t),
            )
            for t in topics
        ]
    finally:
        await consumer.stop()
