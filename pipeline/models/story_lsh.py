"""The LSH index of the stories' MinHash signatures (used by ``story_index.StoryTracker``).

Derived, never stored: (band, values) -> {story id: how many of its signatures are in that
bucket}, and each story's signatures, each with its band keys (so removing one does not
compute them again) and its values packed in one int. The tracker rebuilds it from its state
after a restart, and keeps it in step with the hex signatures it stores.

Similarity on packed ints: a signature's n 16-bit values little-endian in one int (its stored
bytes read as a number); two signatures' XOR has a zero lane per equal value, and
``((x & LOW) + LOW) | x) & HIGH`` sets the top bit of exactly the non-zero lanes (no carry
crosses a lane), so equal = n - its bit count: the same count, so the same float, as
``story_text.similarity`` on the tuples, in a few big-int operations instead of n compares.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

Signature = tuple[int, ...]
BandKey = tuple[int, ...]


class _Entry:
    """One signature of a story: its values, packed int and band keys."""

    __slots__ = ("keys", "packed", "signature")

    def __init__(self, signature: Signature, packed: int, keys: list[BandKey]) -> None:
        self.signature, self.packed, self.keys = signature, packed, keys


class SignatureIndex:
    def __init__(self, bands: int, rows: int) -> None:
        self.bands, self.rows = bands, rows
        n = bands * rows
        self._struct = struct.Struct(f"<{n}H")
        self._lanes = n
        self._low = int.from_bytes(b"\xff\x7f" * n, "little")
        self._high = int.from_bytes(b"\x00\x80" * n, "little")
        self._band_range = range(bands)
        self._buckets: dict[BandKey, dict[str, int]] = {}
        self._entries: dict[str, list[_Entry]] = {}
        self._last: _Entry | None = None

    def decode(self, encoded: str) -> Signature:
        return self._struct.unpack(bytes.fromhex(encoded))

    @staticmethod
    def encode(signature: Signature) -> str:
        return struct.pack(f"<{len(signature)}H", *signature).hex()

    def of(self, story_id: str) -> list[Signature]:
        return [entry.signature for entry in self._entries.get(story_id, ())]

    def _pack(self, signature: Signature) -> int:
        return int.from_bytes(self._struct.pack(*signature), "little")

    def _band_keys(self, signature: Signature) -> list[BandKey]:
        # (band, its rows' values): stride r holds every band's value r, so zipped they give
        # each band's values in order, as slicing band by band would, in one pass.
        rows = self.rows
        strides = (signature[r::rows] for r in range(rows))
        return list(zip(self._band_range, *strides, strict=True))

    def _prepared(self, signature: Signature) -> _Entry:
        """The signature packed and banded; a post's signature is looked up, checked against
        its story's and added in turn, so the last one is kept (the same object only)."""
        last = self._last
        if last is None or last.signature is not signature:
            last = self._last = _Entry(signature, self._pack(signature), self._band_keys(signature))
        return last

    def _equal(self, a: int, b: int) -> int:
        """How many values two packed signatures have equal."""
        x = a ^ b
        low = self._low
        return self._lanes - ((((x & low) + low) | x) & self._high).bit_count()

    def add(self, story_id: str, signature: Signature) -> None:
        entry = self._prepared(signature)
        self._entries.setdefault(story_id, []).append(entry)
        buckets = self._buckets
        for key in entry.keys:
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = {story_id: 1}
            else:
                bucket[story_id] = bucket.get(story_id, 0) + 1

    def remove(self, story_id: str, signature: Signature) -> None:
        entries = self._entries[story_id]
        at = next(i for i, entry in enumerate(entries) if entry.signature == signature)
        buckets = self._buckets
        for key in entries.pop(at).keys:
            bucket = buckets[key]
            bucket[story_id] -= 1
            if not bucket[story_id]:
                del bucket[story_id]
                if not bucket:
                    del buckets[key]

    def drop(self, story_id: str) -> list[Signature]:
        """Remove every signature of a story; returns them."""
        entries = self._entries.pop(story_id, [])
        buckets = self._buckets
        # All of them go: the story leaves each of their buckets (a key once, whatever its count).
        keys = entries[0].keys if len(entries) == 1 else {k for e in entries for k in e.keys}
        for key in keys:
            bucket = buckets[key]
            if len(bucket) == 1:
                del buckets[key]
            else:
                del bucket[story_id]
        return [entry.signature for entry in entries]

    def near(self, story_id: str, signature: Signature, threshold: float) -> bool:
        """Whether one of the story's signatures is at least ``threshold`` similar to it."""
        entries = self._entries.get(story_id)
        if not entries:
            return False
        packed, lanes = self._prepared(signature).packed, len(signature)
        return any(self._equal(packed, e.packed) / lanes >= threshold for e in entries)

    def most_similar(
        self, signature: Signature, threshold: float, last_ts: Callable[[str], float]
    ) -> str | None:
        """The story with the most similar signature at or above ``threshold``."""
        checked: set[str] = set()
        best: tuple[float, float, str] | None = None
        prepared, lanes = self._prepared(signature), len(signature)
        packed, equal, entries, buckets = prepared.packed, self._equal, self._entries, self._buckets
        for key in prepared.keys:
            bucket = buckets.get(key)
            if bucket is None:
                continue
            for story_id in bucket:
                if story_id in checked:
                    continue
                checked.add(story_id)
                score = max(equal(packed, e.packed) for e in entries[story_id]) / lanes
                if score >= threshold:
                    # Explicit tie-break (then the most recent, then the id): bucket order is
                    # not part of the state, so it must not decide anything.
                    candidate = (score, last_ts(story_id), story_id)
                    if best is None or candidate > best:
                        best = candidate
        return None if best is None else best[2]
