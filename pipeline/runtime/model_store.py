"""Sentiment model snapshots on a compacted topic: a restart loads, a replay pins.

A worker's online sentiment model is the shipped prior plus what the feedback topic taught it.
Instead of relearning the whole feedback history at every start, workers write snapshots of
the learned correction (with the feedback offsets it covers) to the ``sentiment.model`` topic,
and a starting worker loads the latest one, then learns only the feedback after it.

Records (keys are bytes; the topic is compacted, so the last value per key is what counts):

- ``<version>/<i>``: part i of a snapshot (parts of at most ``PART_BYTES``, under the
  producer's request and batch limits whatever the snapshot's size);
- ``<version>``: its manifest, ``{"version", "parts"}``, written after the parts;
- ``latest``: the manifest of the newest snapshot.

Versions are "<prior>+<corrections learned>", so a replay can pin one (``Settings.
sentiment_model_version``) and run with exactly that model.
"""

from __future__ import annotations

import time

import orjson
from aiokafka import TopicPartition

from pipeline.runtime.kafka import make_consumer
from pipeline.runtime.settings import Settings

LATEST = b"latest"
PART_BYTES = 192 * 1024
#: A start reads the store for at most this long (it is read to its end offset, then stops).
READ_TIMEOUT_SECONDS = 60.0


def snapshot_records(version: str, snapshot: bytes) -> list[tuple[bytes, bytes]]:
    """(key, value) records of one snapshot: its parts, then its manifest, then ``latest``."""
    parts = [snapshot[i : i + PART_BYTES] for i in range(0, len(snapshot), PART_BYTES)]
    manifest = orjson.dumps({"version": version, "parts": len(parts)})
    return [
        *((f"{version}/{i}".encode(), part) for i, part in enumerate(parts)),
        (version.encode(), manifest),
        (LATEST, manifest),
    ]


def assemble(records: dict[bytes, bytes], version: str = "") -> tuple[str, bytes] | None:
    """The snapshot ``version`` (empty: the latest) from the store's last value per key, or
    None when it is not there (or incomplete)."""
    manifest = records.get(version.encode() if version else LATEST)
    if manifest is None:
        return None
    meta = orjson.loads(manifest)
    parts = [records.get(f"{meta['version']}/{i}".encode()) for i in range(meta["parts"])]
    if any(part is None for part in parts):
        return None
    return str(meta["version"]), b"".join(part for part in parts if part is not None)


async def read_store(settings: Settings, topic: str) -> dict[bytes, bytes]:
    """The last value of every key of the store, read from its start to its end offset."""
    consumer = make_consumer(settings, group_id=None, enable_auto_commit=False)
    await consumer.start()
    records: dict[bytes, bytes] = {}
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        while await consumer.position(partition) < end and time.monotonic() < deadline:
            for batch in (await consumer.getmany(partition, timeout_ms=500)).values():
                for record in batch:
                    if record.key is not None and record.value is not None:
                        records[record.key] = record.value
    finally:
        await consumer.stop()
    return records
