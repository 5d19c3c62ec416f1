"""read_committed reads of a restarted transactional producer's records on noida-db 0.2.3.

A read_committed fetch response lists the aborted transactions (producer id, first offset) that
overlap the fetched range; the client (aiokafka as the Java client) skips a listed producer's
batches from that first offset until the producer's abort marker. Kafka lists only transactions
whose abort marker is at or after the fetch offset. noida-db 0.2.3 lists every aborted
transaction of the partition, in every fetch, however long ago it ended
(/work/scratch/eos2/txnrefetch.py: fetches from offsets 4, 7 and 8 all list ``(1000, 0)``, a
transaction that ended with its marker at 3). And a transactional id keeps its producer id when
re-initialised (a new epoch, as on Kafka): after a worker is killed mid-transaction and restarted,
every later record of its transactional ids is "aborted" to a read_committed fetch that starts
past the old abort marker (its own marker is not in that fetch), so it is skipped, silently, by
every stage that resumes there, by table recovery and by the subscribers of the alert topic.

The fix drops, per fetch, the listed transactions that cannot overlap it. The transaction of a
producer open at the fetch offset, if any, ends with that producer's first marker at or after the
fetch offset, and a producer has one transaction open at a time. So a listed transaction that
starts before the fetch offset is over, and dropped, when:

- the same producer has a later listed transaction that also starts before the fetch offset;
- the producer's first marker in this response is a commit (its open transaction committed);
- this process has already seen a marker of the producer between the transaction's first
  offset and the fetch offset (a consumer reading on: the abort marker was in an earlier fetch).

Otherwise it is kept, as the client would. On a broker that lists only overlapping transactions
none of the three can hold, so there this changes nothing. What it cannot tell: a consumer that
starts past an old abort marker (a restarted worker at its committed offset) and whose first
response holds the producer's records but none of its markers (a transaction larger than the
fetch size): those records are skipped as before. ``apply()`` refuses an aiokafka version it was
not written against.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, cast

import aiokafka
from aiokafka.consumer import fetcher
from aiokafka.record.control_record import ABORT_MARKER, ControlRecord

PATCHED_VERSIONS = frozenset({"0.14.0"})
_ORIGINAL_INIT = fetcher.PartitionRecords.__init__
_ORIGINAL_CONTAINS_ABORT = fetcher.PartitionRecords._contains_abort_marker
#: Per partition, per producer id: the offset of the last transaction marker this process read.
#: Facts of the log, the same for every consumer of it; one int per producer that wrote markers.
_last_marker: dict[Any, dict[int, int]] = {}


class _Batches:
    """The reading interface of aiokafka's MemoryRecords over batches already taken from it."""

    def __init__(self, batches: Iterable[Any]) -> None:
        self._batches = deque(batches)

    def has_next(self) -> bool:
        return bool(self._batches)

    def next_batch(self) -> Any:
        return self._batches.popleft()


def live_aborted(
    aborted: list[tuple[int, int]],
    fetch_offset: int,
    first_markers: dict[int, bool],
    seen_markers: dict[int, int],
) -> list[tuple[int, int]]:
    """The listed aborted transactions (producer id, first offset) that may overlap a fetch from
    ``fetch_offset``. ``first_markers``: each producer's first marker in the response (True for
    an abort); ``seen_markers``: the offset of each producer's last marker read before."""
    latest_before: dict[int, int] = {}
    for producer_id, first in aborted:
        if first < fetch_offset:
            latest_before[producer_id] = max(first, latest_before.get(producer_id, first))
    kept = []
    for producer_id, first in aborted:
        if first < fetch_offset and (
            first != latest_before[producer_id]
            or not first_markers.get(producer_id, True)
            or first <= seen_markers.get(producer_id, -1) < fetch_offset
        ):
            continue
        kept.append((producer_id, first))
    return kept


def _init(
    self: Any,
    tp: Any,
    records: Any,
    aborted_transactions: Any,
    fetch_offset: int,
    *args: Any,
) -> None:
    isolation_level = args[-1]
    self._markers = None
    if isolation_level != fetcher.READ_COMMITTED or not aborted_transactions:
        _ORIGINAL_INIT(self, tp, records, aborted_transactions, fetch_offset, *args)
        return
    # Read the response's batches once to find its markers (a control batch's record is read
    # here, so _contains_abort_marker answers from self._markers), then hand them on.
    batches = []
    markers: dict[int, bool] = {}
    first_markers: dict[int, bool] = {}
    while records.has_next():
        batch = records.next_batch()
        batches.append(batch)
        if batch.is_control_batch and batch.producer_id is not None:
            is_abort = ControlRecord.parse(next(batch).key) == ABORT_MARKER
            markers[batch.base_offset] = is_abort
            if batch.base_offset >= fetch_offset:
                first_markers.setdefault(batch.producer_id, is_abort)
    seen = _last_marker.setdefault(tp, {})
    aborted = live_aborted(list(aborted_transactions), fetch_offset, first_markers, seen)
    for batch in batches:
        if batch.base_offset in markers:
            seen[batch.producer_id] = batch.base_offset
    _ORIGINAL_INIT(self, tp, _Batches(batches), aborted, fetch_offset, *args)
    self._markers = markers


def _contains_abort_marker(self: Any, next_batch: Any) -> bool:
    if self._markers is None:
        return cast(bool, _ORIGINAL_CONTAINS_ABORT(self, next_batch))
    return self._markers[next_batch.base_offset]


def apply() -> None:
    """Install the fix (idempotent; it acts on read_committed fetches that list aborts only)."""
    if aiokafka.__version__ not in PATCHED_VERSIONS:
        raise RuntimeError(
            f"pipeline/runtime/read_committed.py fixes aiokafka {sorted(PATCHED_VERSIONS)}, "
            f"not {aiokafka.__version__}: check whether it is still needed, then update it"
        )
    cast(Any, fetcher.PartitionRecords).__init__ = _init
    cast(Any, fetcher.PartitionRecords)._contains_abort_marker = _contains_abort_marker


def remove() -> None:
    """Put aiokafka's own methods back (tests compare both)."""
    cast(Any, fetcher.PartitionRecords).__init__ = _ORIGINAL_INIT
    cast(Any, fetcher.PartitionRecords)._contains_abort_marker = _ORIGINAL_CONTAINS_ABORT
