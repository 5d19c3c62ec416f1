from __future__ import annotations

import orjson

from pipeline.runtime.model_store import LATEST, PART_BYTES, assemble, snapshot_records


def last_values(records: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """What a compacted topic keeps: the last value per key."""
    return dict(records)


def test_a_snapshot_is_split_into_parts_and_reassembled() -> None:
    snapshot = bytes(range(256)) * (PART_BYTES // 256 * 2 + 7)  # a bit over two parts
    records = snapshot_records("m+10", snapshot)
    assert [key for key, _ in records] == [b"m+10/0", b"m+10/1", b"m+10/2", b"m+10", LATEST]
    assert all(len(value) <= PART_BYTES for _, value in records)
    assert orjson.loads(records[-1][1]) == {"version": "m+10", "parts": 3}
    assert assemble(last_values(records)) == ("m+10", snapshot)
    assert assemble(last_values(records), "m+10") == ("m+10", snapshot)


def test_latest_follows_the_newest_snapshot_and_older_ones_stay_pinnable() -> None:
    records = snapshot_records("m+10", b"old") + snapshot_records("m+25", b"new")
    store = last_values(records)
    assert assemble(store) == ("m+25", b"new")
    assert assemble(store, "m+10") == ("m+10", b"old")
    assert assemble(store, "m+99") is None
    assert assemble({}) is None
    # A manifest whose parts are missing (a torn write) is not a snapshot.
    del store[b"m+25/0"]
    assert assemble(store) is None
