"""The LSH index of the stories' MinHash signatures (used by ``story_index.StoryTracker``).

Derived, never stored: per band, the band's values -> {story id: how many of its signatures
have those values there}, and each story's signatures, each with its band keys (so removing
one does not compute them again) and its values packed in one int. The tracker rebuilds it
from its state after a restart, and keeps it in step with the hex signatures it stores.

A band's key is its values' bytes as the signature stores them (little-endian uint16), read
as one unsigned int when that is a struct size (1, 2 or 4 rows: all of a signature's keys
in one unpack, and an int's hash costs nothing), else as the bytes: either way two bands
have the same key exactly when they have the same values.

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
BandKey = int | bytes
_BAND_CODES = {1: "H", 2: "I", 4: "Q"}  # rows -> struct code of that many uint16


class _Entry:
    """One signature of a story: its values, their bytes, packed int and band keys (one per
    band), and once added, its buckets (one per band: the dicts at those keys, which stay
    while a story holds the signature, so dropping it needs no look-up)."""

    __slots__ = ("buckets", "data", "keys", "packed", "signature")

    def __init__(
        self, signature: Signature, data: bytes, packed: int, keys: tuple[BandKey, ...]
    ) -> None:
        self.signature, self.data, self.packed, self.keys = signature, data, packed, keys
        self.buckets: list[dict[str, int]] = []


class SignatureIndex:
    def __init__(self, bands: int, rows: int) -> None:
        self.bands, self.rows = bands, rows
        n = bands * rows
        self._struct = struct.Struct(f"<{n}H")
        code = _BAND_CODES.get(rows)
        self._band_struct = None if code is None else struct.Struct(f"<{bands}{code}")
        self._lanes = n
        self._low = int.from_bytes(b"\xff\x7f" * n, "little")
        self._high = int.from_bytes(b"\x00\x80" * n, "little")
        self._buckets: list[dict[BandKey, dict[str, int]]] = [{} for _ in range(bands)]
        self._entries: dict[str, list[_Entry]] = {}
        self._last: _Entry | None = None

    def decode(self, encoded: str) -> Signature:
        return self._struct.unpack(bytes.fromhex(encoded))

    @staticmethod
    def encode(signature: Signature) -> str:
        return struct.pack(f"<{len(signature)}H", *signature).hex()

    def encoded(self, signature: Signature) -> str:
        """``encode``, from the bytes already packed for the post's signature."""
        return self._prepared(signature).data.hex()

    def of(self, story_id: str) -> list[Signature]:
        return [entry.signature for entry in self._entries.get(story_id, ())]

    def _prepared(self, signature: Signature) -> _Entry:
        """The signature packed and banded; a post's signature is looked up, checked against
        its story's and added in turn, so the last one is kept (the same object only)."""
        last = self._last
        if last is None or last.signature is not signature:
            data = self._struct.pack(*signature)
            if self._band_struct is not None:
                keys: tuple[BandKey, ...] = self._band_struct.unpack(data)
            else:
                width = 2 * self.rows
                keys = tuple(data[i : i + width] for i in range(0, len(data), width))
            last = self._last = _Entry(signature, data, int.from_bytes(data, "little"), keys)
        return last

    def _equal(self, a: int, b: int) -> int:
        """How many values two packed signatures have equal."""
        x = a ^ b
        low = self._low
        return self._lanes - ((((x & low) + low) | x) & self._high).bit_count()

    def add(self, story_id: str, signature: Signature) -> None:
        entry = self._prepared(signature)
        self._entries.setdefault(story_id, []).append(entry)
        # The same entry may be added again (to this story or another): its buckets are then
        # the same dicts, or new ones if the old went empty, so they are noted afresh.
        entry.buckets = buckets = []
        for band, key in zip(self._buckets, entry.keys, strict=True):
            bucket = band.get(key)
            if bucket is None:
                bucket = band[key] = {story_id: 1}
            else:
                bucket[story_id] = bucket.get(story_id, 0) + 1
            buckets.append(bucket)

    def remove(self, story_id: str, signature: Signature) -> None:
        entries = self._entries[story_id]
        self.remove_at(story_id, next(i for i, e in enumerate(entries) if e.signature == signature))

    def remove_at(self, story_id: str, at: int) -> None:
        """Remove the story's ``at``-th signature (in the order added)."""
        for band, key in zip(self._buckets, self._entries[story_id].pop(at).keys, strict=True):
            bucket = band[key]
            bucket[story_id] -= 1
            if not bucket[story_id]:
                del bucket[story_id]
                if not bucket:
                    del band[key]

    def drop(self, story_id: str) -> list[Signature]:
        """Remove every signature of a story; returns them."""
        entries = self._entries.pop(story_id, [])
        # All of them go: the story leaves each of their buckets (a key once, whatever its count).
        buckets = self._buckets
        if len(entries) == 1:  # most stories close with one signature: its buckets at hand
            entry = entries[0]
            for band, key, bucket in zip(buckets, entry.keys, entry.buckets, strict=True):
                if len(bucket) == 1:
                    del band[key]
                else:
                    del bucket[story_id]
            return [entry.signature]
        pairs = {(b, key) for entry in entries for b, key in enumerate(entry.keys)}
        for b, key in pairs:
            band = buckets[b]
            bucket = band[key]
            if len(bucket) == 1:
                del band[key]
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
        prepared, lanes = self._prepared(signature), len(signature)
        # The stories in the signature's buckets, gathered in C: a dense stream's post finds
        # ~2.5 of its 16 buckets taken, holding ~2 stories between them. The order they come
        # in does not matter: the best is chosen by an explicit order (below).
        found = filter(None, map(dict.get, self._buckets, prepared.keys))
        best: tuple[float, float, str] | None = None
        packed, entries, low, high = prepared.packed, self._entries, self._low, self._high
        for story_id in set().union(*found):
            # The fewest unequal values over the story's signatures (``_equal``, inline).
            unequal = lanes
            for entry in entries[story_id]:
                x = packed ^ entry.packed
                unequal = min(unequal, ((((x & low) + low) | x) & high).bit_count())
            score = (lanes - unequal) / lanes
            if score >= threshold:
                # Explicit tie-break (then the most recent, then the id): bucket order is not
                # part of the state, so it must not decide anything.
                candidate = (score, last_ts(story_id), story_id)
                if best is None or candidate > best:
                    best = candidate
        return None if best is None else best[2]
