"""Fast forms in the per-post learning path give exactly what their plain forms did."""

from __future__ import annotations

import hashlib
import operator
import random
import struct
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from pipeline.models.event_time import iso, iso_text
from pipeline.models.story_index import StoryTracker
from pipeline.models.story_lsh import SignatureIndex
from pipeline.models.story_text import (
    _APOSTROPHE,
    _HANDLE,
    _URL,
    _WORD,
    STOP_WORDS,
    content_words,
    minhash,
)
from pipeline.models.story_types import StoryConfig
from pipeline.models.volume import SpreadConfig, SubjectSpread
from schemas.post import parse_event_time


class _PlainSpread(SubjectSpread):
    """The window pruning as it was: every bucket and author filtered on each new minute."""

    def _forget_buckets(self, first: int) -> None:
        buckets = self.state["buckets"]
        self.state["buckets"] = {k: n for k, n in buckets.items() if int(k) >= first}

    def _forget_authors(self, first: int) -> None:
        authors = self.state["authors"]
        self.state["authors"] = {k: a for k, a in authors.items() if a[1] >= first}
        for forgotten in authors.keys() - self.state["authors"].keys():
            self.author_changes.remove(forgotten)


def _stream(rng: random.Random, n: int) -> list[tuple[float, str, int, str]]:
    ts, posts = 1_700_000_000.0, []
    for _ in range(n):
        step = rng.random()
        if step < 0.02:
            ts += rng.uniform(3_600, 40_000)  # a gap past the horizon
        elif step < 0.3:
            ts += rng.uniform(0, 400)
        late = rng.uniform(0, 9_000) if rng.random() < 0.1 else 0.0  # some late, some too late
        author = f"a{rng.randrange(60)}"
        posts.append((ts - late, author, rng.randrange(5_000), rng.choice("xyz")))
    return posts


def _snapshot(spread: SubjectSpread) -> tuple[bytes, set[str], set[str], bool]:
    notes = spread.author_changes
    return orjson.dumps(spread.state), set(notes.touched), set(notes.removed), notes.everything


def test_spread_pruning_in_place_equals_filtering_everything() -> None:
    rng = random.Random(11)
    config = SpreadConfig(max_tracked_authors=40)  # the cap is reached too
    fast, plain = SubjectSpread(config), _PlainSpread(config)
    for i, post in enumerate(_stream(rng, 6_000)):
        fast.learn_one(*post)
        plain.learn_one(*post)
        assert _snapshot(fast) == _snapshot(plain)
        if i % 500 == 250:  # a restart: the derived index is rebuilt from the state
            state: dict[str, Any] = orjson.loads(orjson.dumps(fast.state))
            fast = SubjectSpread(config, state)
            plain = _PlainSpread(config, orjson.loads(orjson.dumps(plain.state)))
        if i % 97 == 0:
            fast.author_changes.clear()
            plain.author_changes.clear()


def _signature(rng: random.Random, pool: list[tuple[int, ...]]) -> tuple[int, ...]:
    if pool and rng.random() < 0.5:  # shared bands, and the very same signature again
        base = rng.choice(pool)
        return base if rng.random() < 0.3 else tuple(v ^ (rng.random() < 0.1) for v in base)
    return tuple(rng.randrange(4) for _ in range(32))  # few values: many shared buckets


def _last_ts(story_id: str) -> float:
    return float(int(story_id[1:]) % 3)  # ties in time too: the id decides then


def _most_similar(
    held: dict[str, list[tuple[int, ...]]], query: tuple[int, ...], threshold: float
) -> str | None:
    """By definition: of the stories sharing a band (2 values) with it, the most similar."""
    best = None
    for story_id, signatures in held.items():
        shared = [
            s for s in signatures if any(s[b : b + 2] == query[b : b + 2] for b in range(0, 32, 2))
        ]
        if shared:
            score = max(sum(map(operator.eq, s, query)) / 32 for s in signatures)
            if score >= threshold:
                best = max(
                    best or (score, _last_ts(story_id), story_id),
                    (score, _last_ts(story_id), story_id),
                )
    return None if best is None else best[2]


def test_lsh_index_after_adds_removes_and_drops_is_the_one_built_afresh() -> None:
    rng = random.Random(5)
    index, pool = SignatureIndex(16, 2), list[tuple[int, ...]]()
    held: dict[str, list[tuple[int, ...]]] = {}
    for step in range(4_000):
        story = f"s{rng.randrange(12)}"
        action = rng.random()
        if action < 0.6:
            signature = _signature(rng, pool)
            pool.append(signature)
            assert index.encoded(signature) == SignatureIndex.encode(signature)
            # The same object again at once (a merge moves a story's signatures): the same
            # entry then, whose buckets may have gone empty and come back as new dicts.
            for sid in [story] + [f"s{rng.randrange(12)}" for _ in range(rng.random() < 0.3)]:
                index.add(sid, signature)
                held.setdefault(sid, []).append(signature)
                if rng.random() < 0.2:
                    assert index.drop(sid) == held.pop(sid)
        elif action < 0.8 and held.get(story):
            at = rng.randrange(len(held[story]))
            index.remove_at(story, at)
            del held[story][at]
        else:
            assert index.drop(story) == held.pop(story, [])
        query = _signature(rng, pool)
        assert index.most_similar(query, 0.3, _last_ts) == _most_similar(held, query, 0.3)
        if step % 50 == 0:
            fresh = SignatureIndex(16, 2)
            for sid, signatures in held.items():
                for signature in signatures:
                    fresh.add(sid, signature)
            assert index._buckets == fresh._buckets
            for sid in held:
                assert index.of(sid) == held[sid]
                for entry in index._entries.get(sid, []):  # each entry's buckets are the live ones
                    for band, key, bucket in zip(
                        index._buckets, entry.keys, entry.buckets, strict=True
                    ):
                        assert band[key] is bucket


def _plain_content_words(text: str) -> list[str]:
    text = _APOSTROPHE.sub("", _HANDLE.sub(" ", _URL.sub(" ", text.lower())))
    return [w for w in _WORD.findall(text) if len(w) > 1 and w not in STOP_WORDS]


def test_content_words_skipping_patterns_absent_equals_replacing_them_all() -> None:
    rng = random.Random(2)
    pieces = [
        "HTTP://t.co/x",
        "https://a.b/c?d=1",
        "Www.Site.com/p",
        "www",
        "http",
        "@Delta",
        "@",
        "can't",
        "United's",
        "it\u2019s",
        "'quoted'",
        "\u2019",
        "flight",
        "DELAYED",
        "caf\u00e9",
        "\u0130stanbul",
        "x@y",
        "a_b",
        "rt",
        "2015",
        "!!",
        "http:/no",
        "wwwx",
    ]
    for _ in range(5_000):
        text = "".join(rng.choice(pieces) + rng.choice(" .,/:") for _ in range(rng.randrange(9)))
        assert content_words(text) == _plain_content_words(text), text


def _texts(rng: random.Random) -> list[str]:
    """A time in 2000..2100 written as iso writes it, and in other forms ISO allows."""
    seconds = rng.randrange(946_684_800, 4_102_444_800)
    micro = rng.choice([0, 1, 999_999, 500_000, rng.randrange(1_000_000)])
    dt = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=micro)
    plain = dt.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f".{micro:06d}"
    return [
        plain + (fraction if micro else "") + "Z",  # iso's form
        plain + fraction + "Z",  # .000000 written out
        plain + fraction[:4] + "Z",  # milliseconds
        plain + (fraction if micro else "") + "+00:00",
        dt.astimezone(timezone(timedelta(hours=-8))).isoformat(),
        plain.replace("T", " ") + "Z",
        plain,  # naive: UTC
    ]


def test_created_at_taken_as_written_only_when_it_is_iso_of_its_time() -> None:
    rng = random.Random(9)
    taken = 0
    for _ in range(20_000):
        for text in _texts(rng):
            ts = parse_event_time(text).timestamp()
            assert iso_text(text, ts) == iso(ts), text
            taken += iso(ts) == text
    assert taken >= 20_000  # the first form of each time is already iso's


def test_closed_story_is_the_latest_closed_summary_of_its_id() -> None:
    rng = random.Random(4)
    tracker = StoryTracker("acme", StoryConfig(max_active_stories=5, max_closed_stories=6))
    words = [
        "delay",
        "refund",
        "crash",
        "outage",
        "recall",
        "strike",
        "fire",
        "flood",
        "lawsuit",
        "leak",
    ]
    ids: list[str] = []
    closed_ids: list[str] = []
    for i in range(3_000):
        post: dict[str, Any] = {
            "id": f"p{i}",
            "created_at": f"2024-03-04T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "text": " ".join(rng.sample(words, 4)),
            "author": {"id": f"a{rng.randrange(50)}", "followers": rng.randrange(100)},
            "platform": rng.choice(["x", "reddit"]),
        }
        if ids and rng.random() < 0.2:  # answers, some to closed stories (reopened)
            post["reply_to"] = rng.choice(ids[-200:])
        ids.append(post["id"])
        step = tracker.learn(post)
        closed_ids.extend(step.closed)
        if i % 37 == 0 or (step.closed and rng.random() < 0.05):
            # Kept and pending, dropped from the list, reopened, never seen: summarising none
            wanted = set(closed_ids[-12:]) | {f"missing{i}"}
            found = {sid: tracker.closed_story(sid) for sid in wanted}  # before any summary
            latest: dict[str, Any] = {}
            for summary in tracker.closed_stories():
                latest[summary["story_id"]] = summary
            assert found == {sid: latest.get(sid) for sid in wanted}


def _plain_minhash(words: list[str], shingle_size: int, permutations: int) -> tuple[int, ...]:
    n = len(words) - shingle_size + 1
    shingles = (
        {" ".join(words[i : i + shingle_size]) for i in range(n)} if n > 1 else {" ".join(words)}
    )
    digests = [hashlib.blake2b(s.encode(), digest_size=64).digest() for s in shingles]
    values = [struct.unpack("<32H", digest) for digest in digests]
    return tuple(min(column) for column in zip(*values, strict=True))[:permutations]


def test_minhash_equals_the_minimum_of_each_shingle_digest() -> None:
    rng = random.Random(8)
    vocabulary = ["delay", "refund", "x", "caf\u00e9", "a b", "2015", "delay"]
    for _ in range(3_000):
        words = [rng.choice(vocabulary) for _ in range(rng.randrange(1, 9))]
        for shingle_size in (1, 2, 3):
            for permutations in (32, 20):
                expected = _plain_minhash(words, shingle_size, permutations)
                assert minhash(words, shingle_size, permutations) == expected
