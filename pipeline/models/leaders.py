"""Opinion leaders: an online influence score per author within one subject (crisis step 3).

An author's clout comes from reach and from strong ties (repeated, reciprocal interaction), not
follower counts alone. ``AuthorInfluence.learn_one(post, parent_author_id)`` records the author
and, when the post reposts, quotes or replies to another author's post, one directed
interaction author -> parent author. With ``now`` = the watermark (largest event time seen), and
weights decayed by ``half_life_seconds`` of event time::

    score = followers_weight * log10(1 + followers)
          + received_weight  * log2(1 + interactions received, decayed)
          + ties_weight      * log2(1 + sum over strong ties of min(w(a->b), w(b->a)), decayed)

A tie a <-> b is strong when each direction has at least ``strong_tie_min`` interactions and
both were active within ``tie_ttl_seconds``; its strength is the weaker direction's decayed
weight, so only reciprocity counts. Each term is on a log scale so that no single one dominates:
10,000 followers and nothing else score 4.0, while a 0-follower author with one fresh strong tie
of 2 interactions each way scores about log2(3) + 2 * log2(3) = 4.75.

The caller passes each post once: skip the ones ``StoryTracker`` reports as duplicates
(at-least-once delivery), or they count twice. An author only ever interacted with (not seen
posting) is tracked with handle None and 0 followers until a post of theirs comes.

Bounded: at most ``max_authors`` per subject (when full, the lowest scorer among the
``eviction_sample`` least recently active authors goes), at most ``max_edges_per_author``
outgoing edges each (stale, then weakest edges go). Memory is O(max_authors *
max_edges_per_author). Event time only: the same stream gives the same scores in any process.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from pipeline.models.state_log import ChangeNotes
from schemas.post import parse_event_time

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class LeaderConfig:
    #: Authors tracked per subject.
    max_authors: int = 5_000
    #: Outgoing interaction edges kept per author.
    max_edges_per_author: int = 32
    #: Interactions needed in each direction for a strong tie.
    strong_tie_min: int = 2
    #: Half-life (event time) of interaction weights: received interactions and tie strength.
    half_life_seconds: int = 24 * 3600
    #: An edge with no interaction for this long no longer counts and may be dropped.
    tie_ttl_seconds: int = 7 * 24 * 3600
    followers_weight: float = 1.0
    received_weight: float = 1.0
    ties_weight: float = 2.0
    #: When full, the lowest scorer among this many least recently active authors is evicted.
    eviction_sample: int = 8

    def __post_init__(self) -> None:
        if self.max_authors < 2:  # an author and the one it answers must fit together
            raise ValueError("max_authors must be at least 2")
        for name in (
            "max_edges_per_author",
            "strong_tie_min",
            "half_life_seconds",
            "tie_ttl_seconds",
            "eviction_sample",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


class AuthorInfluence:
    """One subject's author influence; ``state`` is a JSON-able dict owned by the caller.

    State: ``authors``: id -> {handle, followers, posts, last_ts, recv: [weight, ts],
    out: {target id: [count, weight, ts]}}, least recently active first; ``watermark``.
    A weight is stored as of its ts and decayed to the watermark when read.
    """

    def __init__(self, config: LeaderConfig | None = None, state: dict[str, Any] | None = None):
        self.config = config or LeaderConfig()
        self.state: dict[str, Any] = (
            state if state else {"version": STATE_VERSION, "watermark": None, "authors": {}}
        )
        if self.state.get("version") != STATE_VERSION:
            raise ValueError(f"leader state version {self.state.get('version')!r} not supported")
        #: Authors touched (changed, moved to the end) and removed since the owner last took
        #: them: a table then writes only those (pipeline/models/state_log.py).
        self.changes = ChangeNotes(limit=2 * self.config.max_authors)

    # -- learning -------------------------------------------------------------------------------

    def learn_one(
        self, post: dict[str, Any], parent_author_id: str | None = None, ts: float | None = None
    ) -> None:
        """``ts``: the post's ``parse_event_time(...).timestamp()``, if the caller has it."""
        if ts is None:
            ts = parse_event_time(post["created_at"]).timestamp()
        state = self.state
        if state["watermark"] is None or ts > state["watermark"]:
            state["watermark"] = ts
        author = post["author"]
        author_id = str(author["id"])
        record = self._touch(author_id, ts, protect=author_id)
        if ts >= record["last_ts"] or record["handle"] is None:  # the newest profile wins
            record["handle"] = author.get("handle")
            record["followers"] = int(author.get("followers") or 0)
        record["posts"] += 1
        record["last_ts"] = max(record["last_ts"], ts)

        if parent_author_id is None or str(parent_author_id) == author_id:
            return  # talking to oneself is not influence
        target_id = str(parent_author_id)
        target = self._touch(target_id, ts, protect=author_id)
        target["recv"] = self._decayed_add(target["recv"], ts)
        target["last_ts"] = max(target["last_ts"], ts)
        record = state["authors"][author_id]  # still there: it was protected
        out: dict[str, list[Any]] = record["out"]
        edge = out.get(target_id)
        if edge is None:
            self._make_edge_room(out)
            edge = out[target_id] = [0, 0.0, ts]
        edge[0] += 1
        edge[1], edge[2] = self._decayed_add([edge[1], edge[2]], ts)

    def _touch(self, author_id: str, ts: float, protect: str) -> dict[str, Any]:
        """The author's record, created if new, moved to the most recently active end."""
        authors: dict[str, dict[str, Any]] = self.state["authors"]
        record = authors.pop(author_id, None)
        if record is None:
            while len(authors) >= self.config.max_authors:
                self._evict_one(protect)
            record = {
                "handle": None,
                "followers": 0,
                "posts": 0,
                "last_ts": ts,
                "recv": [0.0, ts],
                "out": {},
            }
        authors[author_id] = record
        self.changes.touch(author_id)
        return record

    def _evict_one(self, protect: str) -> None:
        authors = self.state["authors"]
        sample = [a for a in islice(authors, self.config.eviction_sample + 1) if a != protect]
        # Lowest score goes; among equals the least recently active (min keeps the first).
        # What score_one gives, without its look-up by the id as text: these are tracked ids.
        score = self._score
        victim = min(sample[: self.config.eviction_sample], key=lambda a: score(a, authors[a]))
        del authors[victim]
        self.changes.remove(victim)

    def _make_edge_room(self, out: dict[str, list[Any]]) -> None:
        if len(out) < self.config.max_edges_per_author:
            return
        now = self.state["watermark"]
        for target in [t for t, e in out.items() if now - e[2] > self.config.tie_ttl_seconds]:
            del out[target]
        if len(out) >= self.config.max_edges_per_author:
            weakest = min(out, key=lambda t: (self._decayed(out[t][1], out[t][2]), out[t][2], t))
            del out[weakest]

    def _decayed(self, weight: float, ts: float) -> float:
        """A weight stored as of ts, decayed to the watermark."""
        return weight * 0.5 ** ((self.state["watermark"] - ts) / self.config.half_life_seconds)

    def _decayed_add(self, pair: list[Any], ts: float) -> list[Any]:
        """[weight, as of] plus one interaction at ts; a late one is decayed forward instead."""
        weight, as_of = pair
        half_life = self.config.half_life_seconds
        # Rounded: 4 decimals of an interaction count are plenty, and 17-digit floats would make
        # up a third of the stored state.
        if ts >= as_of:
            return [round(weight * 0.5 ** ((ts - as_of) / half_life) + 1.0, 4), ts]
        return [round(weight + 0.5 ** ((as_of - ts) / half_life), 4), as_of]

    # -- reading --------------------------------------------------------------------------------

    def _strong_ties(self, author_id: str) -> list[tuple[str, float]]:
        """(partner, strength) of the author's strong ties, in edge order."""
        authors = self.state["authors"]
        record = authors.get(author_id)
        if record is None:
            return []
        now = self.state["watermark"]
        cfg = self.config
        ties = []
        for target, (count, weight, ts) in record["out"].items():
            if count < cfg.strong_tie_min or now - ts > cfg.tie_ttl_seconds:
                continue
            partner = authors.get(target)
            back = None if partner is None else partner["out"].get(author_id)
            if back is None or back[0] < cfg.strong_tie_min or now - back[2] > cfg.tie_ttl_seconds:
                continue
            ties.append((target, min(self._decayed(weight, ts), self._decayed(back[1], back[2]))))
        return ties

    def strong_ties(self, author_id: str) -> list[str]:
        """Ids of the authors this one has a strong (repeated, reciprocal) tie with."""
        return [partner for partner, _ in self._strong_ties(str(author_id))]

    def score_one(self, author_id: str) -> float:
        """Influence of the author (0.0 if not tracked); see the module docstring."""
        record = self.state["authors"].get(str(author_id))
        return 0.0 if record is None else self._score(str(author_id), record)

    def _score(self, author_id: str, record: dict[str, Any]) -> float:
        cfg = self.config
        weight, as_of = record["recv"]
        # Most authors received nothing: 0.0 decayed is 0.0, with no power to compute.
        received = (
            weight * 0.5 ** ((self.state["watermark"] - as_of) / cfg.half_life_seconds)
            if weight
            else 0.0
        )
        tie_strength = 0.0
        if record["out"]:  # most authors never wrote to anyone: no ties to look for
            for _, strength in self._strong_ties(author_id):
                tie_strength += strength
        return (
            cfg.followers_weight * math.log10(1 + record["followers"])
            + cfg.received_weight * math.log2(1 + received)
            + cfg.ties_weight * math.log2(1 + tie_strength)
        )

    def leaders(
        self,
        author_ids: Iterable[str] | None = None,
        k: int = 5,
        scores: dict[str, float] | None = None,
        detail: bool = True,
    ) -> list[dict[str, Any]]:
        """Top-k authors by score among ``author_ids`` (e.g. a story's authors) or all tracked:
        id, handle, followers, score, strong ties and, with ``detail``, posts and interactions
        received (a report carries only the first five: schemas.signals.Leader).

        Over all tracked authors this costs O(max_authors * max_edges_per_author): call it per
        report, not per post. ``scores`` memoises author scores across the calls of one report
        (nothing changes between them; the same author carries several stories).
        """
        return self.describe(self.rank(author_ids, scores)[:k], detail)

    def rank(
        self, author_ids: Iterable[str] | None = None, scores: dict[str, float] | None = None
    ) -> list[tuple[float, str]]:
        """(-score, id) of the tracked authors among ``author_ids`` (all if None), best first,
        ties by id: what ``leaders`` takes its top from. Rankings of one report's author sets
        merge into the ranking of their union (``top_of_union``)."""
        authors = self.state["authors"]
        ids = authors if author_ids is None else set(map(str, author_ids))  # ranked: any order
        if scores is None:
            scores = {}
        # Plain tuples, as a key function per author was a third of the ranking's time.
        ranked = []
        for a in ids:
            score = scores.get(a)
            if score is None:
                record = authors.get(a)
                if record is None:
                    continue  # not tracked (forgotten, or never seen)
                score = scores[a] = self._score(a, record)
            ranked.append((-score, a))
        # A full sort in C beats heapq.nsmallest's Python loop on a story's few dozen authors.
        ranked.sort()
        return ranked

    @staticmethod
    def top_of_union(
        rankings: Iterable[list[tuple[float, str]]], k: int
    ) -> list[tuple[float, str]]:
        """The first ``k`` of the ranking of the union of author sets, from their rankings made
        with one ``scores`` memo (an author has the same (-score, id) in each): a merge of
        sorted lists, not a sort of the union again."""
        top: list[tuple[float, str]] = []
        for entry in heapq.merge(*rankings):
            if len(top) == k:
                break
            if not top or entry != top[-1]:  # an author of several sets comes up in a row
                top.append(entry)
        return top

    def describe(
        self, ranked: Iterable[tuple[float, str]], detail: bool = True
    ) -> list[dict[str, Any]]:
        """The leader records of ranked (-score, id) entries (``rank``), in their order."""
        authors = self.state["authors"]
        top = []
        for negative, author_id in ranked:
            record = authors[author_id]
            leader = {
                "id": author_id,
                "handle": record["handle"],
                "followers": record["followers"],
                "score": round(-negative, 4),
                "strong_ties": len(self._strong_ties(author_id)) if record["out"] else 0,
            }
            if detail:
                leader["posts"] = record["posts"]
                leader["interactions_received"] = round(self._decayed(*record["recv"]), 3)
            top.append(leader)
        return top
