"""Which listed aborted transactions a read_committed fetch keeps (runtime/read_committed.py).

Offsets as in the broker repro: producer 7's transaction 0..2 aborted (marker 3), then its
transactions 4..6 (commit marker 7) and 8 (commit marker 9), after a restart with the same
transactional id (same producer id, new epoch)."""

from __future__ import annotations

from pipeline.runtime.read_committed import live_aborted

ABORTED = [(7, 0)]


def test_a_fetch_from_before_the_aborted_transaction_keeps_it() -> None:
    assert live_aborted(ABORTED, 0, {7: True}, {}) == ABORTED


def test_a_fetch_whose_first_marker_of_the_producer_is_a_commit_drops_it() -> None:
    # Fetch from 4 or 8: the producer's open transaction committed, the listed one ended before.
    assert live_aborted(ABORTED, 4, {7: False}, {}) == []
    assert live_aborted(ABORTED, 8, {7: False}, {}) == []


def test_a_marker_read_in_an_earlier_fetch_closes_it() -> None:
    # Fetch from 8 holding no marker of producer 7 (say, a large transaction), after a fetch
    # that read its abort marker at 3.
    assert live_aborted(ABORTED, 8, {}, {7: 3}) == []


def test_a_fetch_inside_the_aborted_transaction_keeps_it() -> None:
    # From 2: the abort marker at 3 is the producer's first marker here (Kafka lists it too).
    assert live_aborted(ABORTED, 2, {7: True}, {}) == ABORTED
    # No marker of the producer in the response and none read before: kept, as aiokafka would.
    assert live_aborted(ABORTED, 2, {}, {}) == ABORTED


def test_a_marker_before_the_transaction_does_not_close_it() -> None:
    # A marker of the producer at 3 says nothing about its transaction from 10 (marker >= 12).
    assert live_aborted([(7, 10)], 11, {7: True}, {7: 3}) == [(7, 10)]


def test_only_the_latest_of_a_producers_earlier_transactions_can_be_open() -> None:
    listed = [(7, 0), (7, 10), (8, 5)]
    assert live_aborted(listed, 11, {7: True, 8: True}, {}) == [(7, 10), (8, 5)]


def test_transactions_starting_in_the_fetch_are_kept() -> None:
    listed = [(7, 0), (7, 12)]
    assert live_aborted(listed, 8, {7: False}, {}) == [(7, 12)]
