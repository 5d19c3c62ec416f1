"""Story text: the normalised words of a post and their MinHash signature (story matching).

A post's content words drop URLs, @handles, punctuation, 1-letter words and stop words; its
signature is the MinHash of its word shingles, so the share of equal values estimates the Jaccard
similarity of two posts' shingle sets (``StoryTracker``, in ``story_index.py``, indexes them
with LSH).
"""

from __future__ import annotations

import hashlib
import re
from itertools import pairwise
from operator import eq

import numpy as np

# One 64-byte BLAKE2b digest per shingle gives 32 16-bit MinHash values. 16-bit values add a
# 1/65536 chance of a false match per value: negligible next to the estimate's own error.
MAX_PERMUTATIONS = 32

_STOP_WORDS_TEXT = """
    a about after again all also am an and any are as at be been before being but by can could
    did do does doing for from had has have having he her here hers him his how if in into is it
    its just me more most my no nor not now of off on once only or other our out over own same she
    should so some such than that the their them then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you
    your yours rt via amp
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
_APOSTROPHE = re.compile(r"['\u2019]s\b|['\u2019]")  # "united's" -> "united", "can't" -> "cant"
_WORD = re.compile(r"[^\W_]+")
_blake2b = hashlib.blake2b


def content_words(text: str, stop_words: frozenset[str] = STOP_WORDS) -> list[str]:
    """Lower-cased words without URLs, @handles, punctuation, 1-letter words and stop words."""
    text = text.lower()
    # Each pattern replaced only where it can match (a substring test, in C): a regex pass
    # over a post with no URL, handle or apostrophe finds nothing to replace.
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _HANDLE.sub(" ", text)
    if "'" in text or "\u2019" in text:
        text = _APOSTROPHE.sub("", text)
    return [w for w in _WORD.findall(text) if len(w) > 1 and w not in stop_words]


def minhash(words: list[str], shingle_size: int, permutations: int) -> tuple[int, ...]:
    """MinHash of the word shingles: per shingle one BLAKE2b digest read as 16-bit values."""
    n = len(words) - shingle_size + 1
    if n <= 1:
        shingles = {" ".join(words)}
    elif shingle_size == 2:  # the default: pairs joined without slicing (the same text)
        shingles = {a + " " + b for a, b in pairwise(words)}
    else:
        shingles = {" ".join(words[i : i + shingle_size]) for i in range(n)}
    # The digests side by side as little-endian uint16 rows, the minimum of each column: the
    # same values as unpacking each digest and taking the minimum per position (struct "<H"),
    # at half the cost from 3 shingles up (a 20-word post: 36 us -> 16 us). 64 bytes is
    # BLAKE2b's default digest size (not passed: keyword parsing cost a tenth of the call);
    # np.minimum.reduce is what ndarray.min calls, without its Python wrapper.
    digests = b"".join([_blake2b(s.encode()).digest() for s in shingles])
    rows = np.frombuffer(digests, dtype="<u2").reshape(-1, MAX_PERMUTATIONS)
    return tuple(np.minimum.reduce(rows)[:permutations].tolist())


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity: the share of equal MinHash values."""
    return sum(map(eq, a, b)) / len(a)
