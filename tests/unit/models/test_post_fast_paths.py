"""Fast forms in the per-post learning path give exactly what their plain forms did."""

from __future__ import annotations

import random
from typing import Any

import orjson

from pipeline.models.volume import SpreadConfig, SubjectSpread


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
