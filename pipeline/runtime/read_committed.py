"""read_committed reads of a restarted transactional producer's records on noida-db 0.2.3.

A read_committed fetch response lists the aborted transactions (producer id, first offset) that
overlap the fetched range; the client (aiokafka as the Java client) skips a listed producer's
batches from that first offset until the producer's abort marker. Kafka lists only transactions
whose abort marker is at or after the fetch offset. noida-db 0.2.3 lists every aborted
transaction of the partition, in every fetch, however long ago it ended
(tests/integration/test_read_committed.py's layout: fetches from offsets 4, 7 and 8 all list
``(pid, 0)``, a transaction that ended with its abort marker at 3). And a transactional id keeps
its producer id when re-initialised (a new epoch, as on Kafka): after a worker is killed
mid-transaction and restarted, every later record of its transactional ids is "aborted" to a
read_committed fetch that starts past the old abort marker (that marker is not in the fetch),
so it is skipped, silently, by every stage that resumes there, by table recovery and by the
subscribers of the alert topic.

The fix drops, per fetch, the listed transactions that cannot overlap it. The transaction of a
producer open at the fetch offset, if any, ends with that producer's first marker at or after the
fetch offset, and a producer has one transaction open at a time. So a listed transaction that
starts before the fetch offset is over, and dropped, when:

- the same producer has a later listed transaction that also starts before the fetch offset;
- the producer's first marker in this response is a commit (its open transaction committed), or
  comes after another listed transaction of it that starts in the response;
- this process has already seen a marker of the producer between the transaction's first
  offset and the fetch offset (a consumer reading on: the abort marker was in an earlier fetch);
- once the broker was seen listing transactions over (one of the rules above proved it, on any
  partition): the response holds no marker of the producer, and the previous response of the
  partition did not end inside that transaction.

The last rule decides what markers cannot: a response cut by its size before the producer's
next marker, which is common (a transaction's records, or a table's state, fill a fetch). On
noida-db a listed transaction is then nearly always an old one; the previous response tells
whether a consumer reading on is inside an aborted transaction. What it gets wrong: a consumer
whose *first* fetch starts inside an aborted transaction interleaved with another producer's
records, and ends before its abort marker, would read that transaction's records. That needs two
transactional writers on one partition: here each data partition has one (its source
partition's transactional id) with one ``posts.raw`` partition (the default), the dead-letter
topic aside. On a broker that lists only overlapping transactions (Kafka) none of the rules
ever holds: nothing changes there. The fetched batches are scanned from their
headers (``_markers``), not with aiokafka's reader: a second C reader of the same bytes upset
the first. ``apply()`` refuses an aiokafka version it was not written against.
"""

from __future__ import annotations

import struct
from typing import Any, cast

import aiokafka
from aiokafka.consumer import fetcher

from pipeline.runtime.patch_guard import require_version

PATCHED_VERSIONS = frozenset({"0.14.0"})
_ORIGINAL_INIT = fetcher.PartitionRecords.__init__
_ORIGINAL_MEMORY_RECORDS = fetcher.MemoryRecords
#: Per partition, per producer id: the offset of the last transaction marker this process read.
#: Facts of the log, the same for every consumer of it; one int per producer that wrote markers.
_last_marker: dict[Any, dict[int, int]] = {}
#: Per partition: the listed aborted transactions its last fetched response ended inside.
_left_open: dict[Any, set[tuple[int, int]]] = {}
#: The broker was seen listing an aborted transaction over before the fetch (noida-db 0.2.3).
_lists_old = False
#: Record batch v2 header: the records start 61 bytes in; attribute bit 5 marks a control batch.
_RECORDS_AT = 61
_CONTROL = 0x20


class _KeptRecords:
    """aiokafka's MemoryRecords of one fetched partition, keeping its bytes for ``_markers``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._records = _ORIGINAL_MEMORY_RECORDS(data)

    def has_next(self) -> bool:
        return cast(bool, self._records.has_next())

    def next_batch(self) -> Any:
        return self._records.next_batch()

    def size_in_bytes(self) -> int:
        return cast(int, self._records.size_in_bytes())


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A record field (zigzag varint) at ``pos``: its value and the position after it."""
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7


def _markers(data: bytes) -> dict[int, list[tuple[int, bool]]]:
    """Each producer's transaction markers in a fetched partition, in log order: (offset, True
    for an abort). Read from the batch headers (record format v2) here: a second aiokafka
    reader of the same bytes upset the first."""
    markers: dict[int, list[tuple[int, bool]]] = {}
    pos, end = 0, len(data)
    while pos + _RECORDS_AT <= end:
        base_offset, length = struct.unpack_from(">qi", data, pos)
        batch_end = pos + 12 + length
        if batch_end > end:  # a fetch may end inside a batch
            break
        magic = data[pos + 16]
        attributes = struct.unpack_from(">h", data, pos + 21)[0]
        if magic >= 2 and attributes & _CONTROL:
            producer_id = struct.unpack_from(">q", data, pos + 43)[0]
            # The control record: length, attributes, timestamp and offset deltas, key length,
            # then its key: version (int16), type (int16; 0 abort, 1 commit).
            _, at = _varint(data, pos + _RECORDS_AT)
            at += 1
            for _ in range(3):
                _, at = _varint(data, at)
            is_abort = struct.unpack_from(">h", data, at + 2)[0] == 0
            markers.setdefault(producer_id, []).append((base_offset, is_abort))
        pos = batch_end
    return markers


def live_aborted(
    aborted: list[tuple[int, int]],
    fetch_offset: int,
    markers: dict[int, list[tuple[int, bool]]],
    seen_markers: dict[int, int],
    left_open: set[tuple[int, int]],
    lists_old: bool,
) -> tuple[list[tuple[int, int]], bool]:
    """The listed aborted transactions (producer id, first offset) that may overlap a fetch from
    ``fetch_offset``. ``markers``: each producer's markers in the response (offset, abort);
    ``seen_markers``: the offset of each producer's last marker read before; ``left_open``: the
    transactions the previous response of the partition ended inside; ``lists_old``: the broker
    was seen listing transactions over before the fetch. Returns the transactions kept, and
    whether this response's markers proved one listed transaction over (see the module)."""
    latest_before: dict[int, int] = {}
    starts_after: dict[int, int] = {}  # each producer's first listed start in the response
    for producer_id, first in aborted:
        if first < fetch_offset:
            latest_before[producer_id] = max(first, latest_before.get(producer_id, first))
        else:
            starts_after[producer_id] = min(first, starts_after.get(producer_id, first))
    kept = []
    proved = False
    for producer_id, first in aborted:
        if first < fetch_offset:
            own = markers.get(producer_id)
            if (
                first != latest_before[producer_id]
                or (own is not None and not own[0][1])
                or (own is not None and starts_after.get(producer_id, own[0][0]) < own[0][0])
                or first <= seen_markers.get(producer_id, -1) < fetch_offset
            ):
                proved = True
                continue
            if lists_old and own is None and (producer_id, first) not in left_open:
                continue
        kept.append((producer_id, first))
    return kept, proved


def _init(
    self: Any,
    tp: Any,
    records: Any,
    aborted_transactions: Any,
    fetch_offset: int,
    *args: Any,
) -> None:
    isolation_level = args[-1]
    if (
        isolation_level == fetcher.READ_COMMITTED
        and aborted_transactions
        and isinstance(records, _KeptRecords)
    ):
        seen = _last_marker.setdefault(tp, {})
        markers = _markers(records.data)
        global _lists_old
        aborted_transactions, proved = live_aborted(
            list(aborted_transactions),
            fetch_offset,
            markers,
            seen,
            _left_open.get(tp, set()),
            _lists_old,
        )
        _lists_old = _lists_old or proved
        # Kept and not ended in this response: the next fetch starts inside them.
        _left_open[tp] = {
            (producer_id, first)
            for producer_id, first in aborted_transactions
            if not any(offset > first for offset, _ in markers.get(producer_id, ()))
        }
        seen.update({producer_id: own[-1][0] for producer_id, own in markers.items()})
    _ORIGINAL_INIT(self, tp, records, aborted_transactions, fetch_offset, *args)


def apply() -> None:
    """Install the fix (idempotent; it acts on read_committed fetches that list aborts only)."""
    require_version(
        "pipeline.runtime.read_committed",
        aiokafka,
        PATCHED_VERSIONS,
        "check whether it is still needed, then update it",
    )
    cast(Any, fetcher).MemoryRecords = _KeptRecords
    cast(Any, fetcher.PartitionRecords).__init__ = _init


def remove() -> None:
    """Put aiokafka's own methods back (tests compare both)."""
    cast(Any, fetcher).MemoryRecords = _ORIGINAL_MEMORY_RECORDS
    cast(Any, fetcher.PartitionRecords).__init__ = _ORIGINAL_INIT
