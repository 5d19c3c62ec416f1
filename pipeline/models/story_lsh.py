"""The LSH index of the stories' MinHash signatures (used by ``story_index.StoryTracker``).

Derived, never stored: (band, values) -> {story id: how many of its signatures are in that
bucket}, and each story's decoded signatures. The tracker rebuilds it from its state after a
restart, and keeps it in step with the hex signatures it stores.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from pipeline.models.story_text import similarity

Signature = tuple[int, ...]


class SignatureIndex:
    def __init__(self, bands: int, rows: int) -> None:
        self.bands, self.rows = bands, rows
        self._unpack = struct.Struct(f"<{bands * rows}H").unpack
        self._buckets: dict[tuple[int, Signature], dict[str, int]] = {}
        self._signatures: dict[str, list[Signature]] = {}

    def decode(self, encoded: str) -> Signature:
        return self._unpack(bytes.fromhex(encoded))

    @staticmethod
    def encode(signature: Signature) -> str:
        return struct.pack(f"<{len(signature)}H", *signature).hex()

    def of(self, story_id: str) -> list[Signature]:
        return self._signatures.get(story_id, [])

    def _band_keys(self, signature: Signature) -> list[tuple[int, Signature]]:
        rows = self.rows
        return [(b, signature[b * rows : (b + 1) * rows]) for b in range(self.bands)]

    def add(self, story_id: str, signature: Signature) -> None:
        self._signatures.setdefault(story_id, []).append(signature)
        for key in self._band_keys(signature):
            bucket = self._buckets.setdefault(key, {})
            bucket[story_id] = bucket.get(story_id, 0) + 1

    def remove(self, story_id: str, signature: Signature) -> None:
        self._signatures[story_id].remove(signature)
        for key in self._band_keys(signature):
            bucket = self._buckets[key]
            bucket[story_id] -= 1
            if not bucket[story_id]:
                del bucket[story_id]
                if not bucket:
                    del self._buckets[key]

    def drop(self, story_id: str) -> list[Signature]:
        """Remove every signature of a story; returns them."""
        signatures = list(self._signatures.get(story_id, []))
        for signature in signatures:
            self.remove(story_id, signature)
        self._signatures.pop(story_id, None)
        return signatures

    def most_similar(
        self, signature: Signature, threshold: float, last_ts: Callable[[str], float]
    ) -> str | None:
        """The story with the most similar signature at or above ``threshold``."""
        checked: set[str] = set()
        best: tuple[float, float, str] | None = None
        for key in self._band_keys(signature):
            for story_id in self._buckets.get(key, ()):
                if story_id in checked:
                    continue
                checked.add(story_id)
                score = max(similarity(signature, s) for s in self._signatures[story_id])
                if score >= threshold:
                    # Explicit tie-break (then the most recent, then the id): bucket order is
                    # not part of the state, so it must not decide anything.
                    candidate = (score, last_ts(story_id), story_id)
                    if best is None or candidate > best:
                        best = candidate
        return None if best is None else best[2]
