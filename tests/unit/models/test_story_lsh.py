"""The LSH index's packed-int similarity counts exactly what ``story_text.similarity`` does."""

from __future__ import annotations

import random

from pipeline.models.story_lsh import SignatureIndex
from pipeline.models.story_text import similarity


def _pair(rng: random.Random, n: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    # Lane edge values (0, 0x7fff, 0x8000, 0xffff) are where a carry or top bit would show.
    values = [0, 1, 0x7FFF, 0x8000, 0xFFFF]
    a = tuple(
        rng.choice(values) if rng.random() < 0.5 else rng.randrange(1 << 16) for _ in range(n)
    )
    b = tuple(x if rng.random() < 0.5 else rng.choice(values) for x in a)
    return a, b


def test_packed_similarity_equals_tuple_similarity() -> None:
    rng = random.Random(7)
    for bands, rows in ((16, 2), (8, 4), (3, 1)):
        index = SignatureIndex(bands, rows)
        for _ in range(2_000):
            a, b = _pair(rng, bands * rows)
            index.add("s", b)
            score = similarity(a, b)
            assert index.near("s", a, score) and not index.near("s", a, score + 1e-9)
            shared = any(
                a[band * rows : (band + 1) * rows] == b[band * rows : (band + 1) * rows]
                for band in range(bands)
            )
            assert index.most_similar(a, score, lambda _: 0.0) == ("s" if shared else None)
            index.drop("s")


def test_remove_and_drop_leave_no_bucket_behind() -> None:
    rng = random.Random(3)
    index = SignatureIndex(16, 2)
    signatures = [_pair(rng, 32)[0] for _ in range(6)]
    for i, signature in enumerate(signatures):
        index.add(f"s{i % 2}", signature)
        index.add(f"s{i % 2}", signature)  # the same signature twice counts twice
    index.remove("s0", signatures[0])
    assert index.of("s0").count(signatures[0]) == 1
    assert index.drop("s0") == [
        signatures[0],
        signatures[2],
        signatures[2],
        signatures[4],
        signatures[4],
    ]
    assert index.drop("s1") == [s for s in signatures[1::2] for _ in range(2)]
    assert index.of("s0") == index.of("s1") == [] and not index._buckets
