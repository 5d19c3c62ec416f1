"""Our hash of tokens and spans of code points, for a whole batch at once (numpy, uint64).

A polynomial hash over code points (mod 2**64): the same in every process (Python's ``hash``
is salted per process), and every span of a batch's code points is hashed at once from one
prefix sum. ``HashSet`` looks a batch's hashes up in a fixed set of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.models.sentiment_tokens import codepoints

P = np.uint64(0x100000001B3)
P_INVERSE = np.uint64(pow(0x100000001B3, -1, 1 << 64))
MIX = np.uint64(0x9E3779B97F4A7C15)

_POWERS: list[tuple[np.ndarray, np.ndarray]] = []


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**-j and P**j for j < n (mod 2**64), computed once and grown as batches need."""
    if not _POWERS or len(_POWERS[0][0]) < n:
        size = max(n, 1 << 16)
        with np.errstate(over="ignore"):
            inverse = np.cumprod(np.full(size, P_INVERSE, dtype=np.uint64)) * P
            direct = np.cumprod(np.full(size, P, dtype=np.uint64)) * P_INVERSE
        _POWERS[:] = [(inverse, direct)]
    inverse, direct = _POWERS[0]
    return inverse[:n], direct[:n]


def prefix_sums(cps: np.ndarray) -> np.ndarray:
    """Prefix sums S of c_j * P**-j (uint64 wraps), for ``span_hash``."""
    inverse_powers, _ = _powers(len(cps))
    with np.errstate(over="ignore"):
        prefix: np.ndarray = np.concatenate(
            (np.zeros(1, np.uint64), np.cumsum(cps * inverse_powers, dtype=np.uint64))
        )
    return prefix


def span_hash(prefix: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Polynomial hash of every span cps[start:end] at once, from the prefix sums of cps: a
    span's hash is (S[end] - S[start]) * P**(end - 1), position-independent (uint64 wraps)."""
    _, powers = _powers(len(prefix))
    with np.errstate(over="ignore"):
        hashes: np.ndarray = (prefix[end] - prefix[start]) * powers[np.maximum(end - 1, 0)]
    return hashes


def hash_words(words: Sequence[str]) -> np.ndarray:
    """Our hash of each word (as a token of a batch would get it)."""
    cps = codepoints(" ".join(words))
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
    return span_hash(prefix_sums(cps), starts, starts + lengths)


def bucket(hashes: np.ndarray, bits: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        # int32: a column index, as CSR matrices hold them (no conversion later).
        return ((hashes * MIX) >> np.uint64(64 - bits)).astype(np.int32)


class HashSet:
    """A fixed set of token hashes, looked up for a whole batch at once. A bitmap of the keys'
    buckets sifts the batch's hashes first (one gather each), so the exact binary search runs
    only on the few that may be keys: searching every token cost ~3 us a post."""

    BITS = 18

    def __init__(self, keys: np.ndarray) -> None:
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self._bitmap = np.zeros(1 << self.BITS, dtype=bool)
        self._bitmap[bucket(self.keys, self.BITS)] = True

    def find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in ``hashes`` that hold a key, the index of that key in the ``keys`` given
        to the constructor)."""
        maybe = np.flatnonzero(self._bitmap[bucket(hashes, self.BITS)])
        if not len(self.keys):
            return maybe[:0], maybe[:0]
        at = np.minimum(np.searchsorted(self.keys, hashes[maybe]), len(self.keys) - 1)
        found = self.keys[at] == hashes[maybe]
        return maybe[found], self.order[at[found]]

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Per hash: is it a key?"""
        out = np.zeros(len(hashes), dtype=bool)
        out[self.find(hashes)[0]] = True
        return out
