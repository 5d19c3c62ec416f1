"""Fast forms in the story path (LSH, MinHash, iso) give exactly what their definitions do."""

from __future__ import annotations

import hashlib
import random
import struct
from datetime import UTC, datetime

import orjson
import pytest

from pipeline.models.story_index import StoryTracker
from pipeline.models.story_lsh import SignatureIndex
from pipeline.models.story_text import minhash, similarity
from pipeline.models.story_types import StoryConfig


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
    for bands, rows in ((16, 2), (8, 4), (3, 1), (5, 3)):
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


@pytest.mark.parametrize(("bands", "rows"), [(16, 2), (5, 3)])  # int band keys, bytes ones
def test_remove_and_drop_leave_no_bucket_behind(bands: int, rows: int) -> None:
    rng = random.Random(3)
    index = SignatureIndex(bands, rows)
    signatures = [_pair(rng, bands * rows)[0] for _ in range(6)]
    signatures[1] = (*signatures[0][:-1], signatures[0][-1] ^ 1)  # one band differs
    index.add("other", signatures[1])  # shares the buckets of s0's first signature but one
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
    assert index.most_similar(signatures[0], 0.5, lambda _: 0.0) == "other"
    assert index.of("s0") == index.of("s1") == [] and index.drop("other") == [signatures[1]]
    assert not any(index._buckets)


def _reference_minhash(words: list[str], shingle_size: int, permutations: int) -> tuple[int, ...]:
    """The definition: per shingle, its BLAKE2b digest unpacked as 32 little-endian uint16;
    the minimum at each position over the shingles."""
    n = len(words) - shingle_size + 1
    shingles = (
        {" ".join(words[i : i + shingle_size]) for i in range(n)} if n > 1 else {" ".join(words)}
    )
    rows = [
        struct.unpack("<32H", hashlib.blake2b(s.encode(), digest_size=64).digest())
        for s in shingles
    ]
    return tuple(min(column) for column in zip(*rows, strict=True))[:permutations]


def test_minhash_equals_its_definition() -> None:
    rng = random.Random(11)
    vocabulary = [f"w{i}" for i in range(40)] + ["flight", "délai", "東京", "x" * 30]
    for _ in range(500):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(1, 40))]
        for shingle_size, permutations in ((2, 32), (1, 32), (3, 20)):
            expected = _reference_minhash(words, shingle_size, permutations)
            got = minhash(words, shingle_size, permutations)
            assert got == expected and all(type(v) is int for v in got)


def test_iso_and_epoch_remember_only_what_they_would_compute() -> None:
    from datetime import UTC, datetime

    from pipeline.models import event_time

    rng = random.Random(5)
    times = [1_709_510_400 + rng.random() * 86_400 for _ in range(3 * event_time._ISO_KEPT)]
    for ts in times + times[::-1] + [0, 0.0, 1.5, 1_709_510_400]:
        expected = datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")
        assert event_time.iso(ts) == expected
        assert event_time.epoch(expected) == datetime.fromisoformat(expected).timestamp()
    assert len(event_time._ISO) <= event_time._ISO_KEPT
    for text in (
        "2024-03-04T00:00:00+02:00",
        "2024-03-04T00:00:00.5Z",
        "2024-03-04 12:00:00+00:00",
    ):
        assert event_time.epoch(text) == datetime.fromisoformat(text).timestamp()


def _closing_stream(n: int) -> list[dict[str, object]]:
    """Posts of many small stories (most evicted soon), some answering long-closed posts (the
    story reopens from its kept summary), some repeated, a few after a day's gap (expiry)."""
    rng = random.Random(9)
    posts: list[dict[str, object]] = []
    for i in range(n):
        minutes = i * 0.5 + (1_500 if i > n // 2 else 0)
        parent = f"p{rng.randrange(i)}" if i and rng.random() < 0.3 else None
        text = f"word{i % 17} kind{i % 5} thing{rng.randrange(40)} more{rng.randrange(3)}"
        posts.append(
            {
                "id": f"p{i}",
                "platform": "twitter" if rng.random() < 0.8 else "reddit",
                "author": {"id": f"a{rng.randrange(30)}", "followers": rng.randrange(100)},
                "text": text,
                "created_at": datetime.fromtimestamp(1.7e9 + minutes * 60, tz=UTC).isoformat(),
                "reply_to": parent,
            }
        )
        if rng.random() < 0.05:
            posts.append(posts[rng.randrange(len(posts))])
    return posts


@pytest.mark.parametrize("closed_kept", [0, 1, 4])
def test_closed_stories_summarised_when_read_equal_those_summarised_at_close(
    closed_kept: int,
) -> None:
    config = StoryConfig(max_active_stories=6, max_closed_stories=closed_kept)
    read_often, read_at_end = StoryTracker("s", config), StoryTracker("s", config)
    for n, post in enumerate(_closing_stream(600)):
        read_often.learn(post)
        read_at_end.learn(post)
        # Reading the state (or the closed list) summarises what is kept at that moment.
        kept = read_often.closed_stories() if n % 2 else read_often.state["closed"]
        assert len(kept) <= closed_kept
    stats = read_often.state["stats"]
    assert (
        stats["evicted"] > 100
        and stats["expired"]
        and stats.get("reopened", 0) >= bool(closed_kept)
    )
    assert orjson.dumps(read_at_end.state) == orjson.dumps(read_often.state)
    # The closed list's change notes (what a table write takes) count the same, read or not.
    for name in ("appended", "dropped", "rewritten"):
        assert getattr(read_at_end.closed_changes, name) == getattr(read_often.closed_changes, name)
