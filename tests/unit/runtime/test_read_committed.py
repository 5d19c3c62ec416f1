"""Which listed aborted transactions a read_committed fetch keeps (runtime/read_committed.py).

Offsets as in the broker test: producer 7's transaction 0..2 aborted (marker 3), then its
transactions 4..6 (commit marker 7) and 8 (commit marker 9), after a restart with the same
transactional id (same producer id, new epoch)."""

from __future__ import annotations

import struct

from pipeline.runtime.read_committed import _markers, live_aborted

ABORTED = [(7, 0)]
COMMIT, ABORT = False, True


def kept(
    aborted: list[tuple[int, int]],
    fetch_offset: int,
    markers: dict[int, list[tuple[int, bool]]],
    seen: dict[int, int],
    left_open: set[tuple[int, int]],
    lists_old: bool = True,
) -> list[tuple[int, int]]:
    """The transactions kept, on a broker seen listing old ones (noida-db) unless told."""
    return live_aborted(aborted, fetch_offset, markers, seen, left_open, lists_old)[0]


def test_a_fetch_from_before_the_aborted_transaction_keeps_it() -> None:
    assert kept(ABORTED, 0, {7: [(3, ABORT)]}, {}, set()) == ABORTED


def test_a_fetch_whose_first_marker_of_the_producer_is_a_commit_drops_it() -> None:
    # Fetch from 4 or 8: the producer's open transaction committed, the listed one ended before.
    assert kept(ABORTED, 4, {7: [(7, COMMIT), (9, COMMIT)]}, {}, set()) == []
    assert kept(ABORTED, 8, {7: [(9, COMMIT)]}, {}, set()) == []


def test_a_marker_read_in_an_earlier_fetch_closes_it() -> None:
    # Fetch from 8 holding no marker of producer 7, after a fetch that read its marker at 3.
    assert kept(ABORTED, 8, {}, {7: 3}, {(7, 0)}) == []


def test_a_fetch_inside_the_aborted_transaction_keeps_it() -> None:
    # From 2: the abort marker at 3 is the producer's first marker here (Kafka lists it too).
    assert kept(ABORTED, 2, {7: [(3, ABORT)]}, {}, set()) == ABORTED
    # No marker in the response, but the previous response ended inside the transaction.
    assert kept(ABORTED, 2, {}, {}, {(7, 0)}) == ABORTED


def test_a_response_cut_before_any_marker_of_the_producer_drops_an_old_transaction() -> None:
    # A consumer starting at 5 (a committed offset) whose first response ends at 6.
    assert kept(ABORTED, 5, {}, {}, set()) == []
    # Not before the broker was seen listing old transactions: as aiokafka (Kafka's lists).
    assert kept(ABORTED, 5, {}, {}, set(), lists_old=False) == ABORTED


def test_markers_proving_a_listed_transaction_over_say_so() -> None:
    assert live_aborted(ABORTED, 4, {7: [(7, COMMIT)]}, {}, set(), False) == ([], True)
    assert live_aborted(ABORTED, 0, {7: [(3, ABORT)]}, {}, set(), False) == (ABORTED, False)


def test_a_marker_before_the_transaction_does_not_close_it() -> None:
    # A marker of the producer at 3 says nothing about its transaction from 10 (marker >= 12).
    assert kept([(7, 10)], 11, {7: [(12, ABORT)]}, {7: 3}, set()) == [(7, 10)]


def test_only_the_latest_of_a_producers_earlier_transactions_can_be_open() -> None:
    listed = [(7, 0), (7, 10), (8, 5)]
    markers = {7: [(12, ABORT)], 8: [(13, ABORT)]}
    assert kept(listed, 11, markers, {}, set()) == [(7, 10), (8, 5)]


def test_an_abort_after_a_transaction_starting_in_the_response_is_not_the_old_ones() -> None:
    listed = [(7, 0), (7, 12)]
    assert kept(listed, 8, {7: [(14, ABORT)]}, {}, set()) == [(7, 12)]
    assert kept(listed, 8, {7: [(9, COMMIT), (14, ABORT)]}, {}, set()) == [(7, 12)]


def _batch(offset: int, producer_id: int, control: int | None = None) -> bytes:
    """A record batch v2 as the broker sends it: a data batch, or a control batch (0 abort,
    1 commit) with its one record (CRC not filled: not read here)."""
    if control is None:
        records = b"\x00" * 8
        attributes = 0x10
    else:
        key = struct.pack(">hh", 0, control)
        body = b"\x00" + b"\x00" + b"\x00" + bytes([len(key) * 2]) + key + b"\x02" + b"\x00"
        records = bytes([len(body) * 2]) + body
        attributes = 0x30
    header = struct.pack(">ibIhiqqqhii", 0, 2, 0, attributes, 0, 0, 0, producer_id, 1, -1, 1)
    return struct.pack(">qi", offset, len(header) + len(records)) + header + records


def test_markers_are_read_from_the_batch_headers() -> None:
    data = _batch(0, 7) + _batch(3, 7, control=0) + _batch(4, 9) + _batch(7, 7, control=1)
    assert _markers(data) == {7: [(3, ABORT), (7, COMMIT)]}
    assert _markers(data[:-5]) == {7: [(3, ABORT)]}  # a fetch may end inside a batch
