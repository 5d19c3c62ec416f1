"""Story index: streaming first-story detection for one subject's posts (crisis steps 2 and 3).

``StoryTracker.learn_one(post)`` puts each post in a story, in this order of preference:

1. cascade: its parent (``repost_of``, else ``quote_of``, else ``reply_to``) is a recent post of
   an active story, so it joins that story;
2. same text: its MinHash signature (word shingles of the normalised text) shares an LSH band
   with a recent active story's and the estimated Jaccard similarity reaches the threshold;
3. otherwise it opens a new story, whose id is a BLAKE2b hash of (subject, first post id), so
   the same stream gives the same ids in any process.

Per post the work is constant: one hash per shingle, ``minhash_bands`` bucket look-ups and a
similarity check per candidate in those buckets, never a scan of all stories.

Cascade rule: a post's *root* is its earliest known ancestor: the parent's root when the parent
is in the recent-post map, else the parent id itself (the best root we know of; the parent was
never seen or has been forgotten), else the post itself. Depth counts hops from that root, so a
post whose parent is unknown has depth 1. A story's ``cascade_root`` is the root of its first
post (the member with the earliest event time). ``breadth`` is the largest number of direct
children any one post of the story has (a star-shaped cascade is broad, a chain is deep); it
counts children seen while the parent was still in the recent-post map, so it is a floor.

Repairs (``story_repair.py``): an answer to a post whose story has closed reopens that story
from its closed summary, if still kept, rather than starting a story of its own; answers that
arrive before the post they answer wait under that post's id (``awaiting``), and when it
arrives their story merges into its story and their roots become its root.

Everything runs on event time. The tracker's watermark is the largest event time seen; a story
with no post for more than ``story_ttl_seconds`` before the watermark is closed (its summary is
kept in a short ``closed`` list). Stories are kept in least-recently-updated order, so expiry and
eviction of the stalest story (beyond ``max_active_stories``) look at the front only; with posts
slightly out of order, expiry of a story may wait until the ones updated before it go.

Memory per subject: O(max_active_stories * (signatures_per_story * signature + author cap +
reach points + velocity minutes)) plus the recent-post map (``max_recent_posts`` entries) and
``max_closed_stories`` summaries. The LSH bucket index (``story_lsh.py``) is derived: it is
rebuilt from the state in ``__init__`` (O(stories * bands)), so keep one tracker object per
subject alive between posts and construct it from the state only after a restart or rebalance.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pipeline.models import story_repair
from pipeline.models.event_time import iso, iso_text
from pipeline.models.state_log import ChangeNotes, ListNotes
from pipeline.models.story_lsh import SignatureIndex
from pipeline.models.story_summary import hottest, signal_fields, summarize
from pipeline.models.story_text import (
    STOP_WORDS,
    content_words,
    minhash,
)
from pipeline.models.story_types import StoryConfig, StoryStep, StoryUpdate, story_id_for
from schemas.post import parse_event_time

STATE_VERSION = 1
# A joining post whose text is at least this similar to one of the story's representative
# signatures adds nothing new to match against, so it does not become one.
NEAR_DUPLICATE = 0.8


def _parent_id(post: dict[str, Any]) -> str | None:
    parent = post.get("repost_of") or post.get("quote_of") or post.get("reply_to")
    return None if parent is None else str(parent)


class StoryTracker:
    """One subject's stories; ``state`` is a JSON-able dict owned by the caller."""

    def __init__(
        self, subject: str, config: StoryConfig | None = None, state: dict[str, Any] | None = None
    ) -> None:
        self.subject = subject
        self.config = cfg = config or StoryConfig()
        self._state: dict[str, Any] = state if state else self._empty_state()
        if self._state.get("version") != STATE_VERSION:
            raise ValueError(f"story state version {self._state.get('version')!r} not supported")
        stop = STOP_WORDS if cfg.stop_words else frozenset()
        if cfg.ignore_subject_words:
            stop = stop | set(content_words(subject, frozenset()))
        self._stop_words = frozenset(stop)
        self._lsh = SignatureIndex(cfg.minhash_bands, cfg.minhash_rows)  # derived, not stored
        #: Recent-post map entries added, changed and dropped since the owner last took them:
        #: a table then writes only those (pipeline/models/state_log.py).
        self.post_changes = ChangeNotes(limit=2 * cfg.max_recent_posts)
        #: Likewise for the active stories (least recently updated first), the closed
        #: summaries (first in, first out) and the other fields noted when they change.
        self.story_changes = ChangeNotes(limit=2 * cfg.max_active_stories)
        self.changed_fields: set[str] = set()
        self.closed_changes = ListNotes()
        #: Closed stories not summarised yet, (story, reason, watermark then), after the kept
        #: summaries: most are pushed out of the short closed list by the next closes before
        #: anyone reads it (a dense stream closes a story per post), so each is summarised
        #: only when the state is read (``state``, ``closed_stories``, a reopen), if still kept.
        self._pending: list[tuple[dict[str, Any], str, float]] = []
        for sid, story in self._state["stories"].items():
            for encoded in story["signatures"]:
                self._lsh.add(sid, self._lsh.decode(encoded))

    @property
    def state(self) -> dict[str, Any]:
        """The JSON-able state (owned by the caller), with every kept closed story summarised."""
        if self._pending:
            self._summarise_closed()
        return self._state

    @staticmethod
    def _empty_state() -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "watermark": None,
            "stories": {},  # story id -> story, least recently updated first
            "posts": {},  # post id -> [story id, depth, author id, root id or None, children]
            "awaiting": {},  # unseen parent id -> story id of its answers that came first
            "closed": [],
            "stats": {"posts": 0, "duplicates": 0, "opened": 0, "expired": 0, "evicted": 0},
        }

    # -- learning -------------------------------------------------------------------------------

    def learn_one(self, post: dict[str, Any]) -> StoryUpdate:
        """``learn``, and the summary of the post's story after it."""
        step = self.learn(post)
        story = self._state["stories"].get(step.story_id)
        if story is not None:
            summary = self._summary(story)
        else:  # a repeat whose story has closed: the closed summary if still kept
            kept = (s for s in reversed(self.state["closed"]) if s["story_id"] == step.story_id)
            summary = dict(next(kept, {"story_id": step.story_id, "subject": self.subject}))
        return StoryUpdate(**asdict(step), story=summary)

    def learn(self, post: dict[str, Any], ts: float | None = None) -> StoryStep:
        """Take one post into its story. No summary: a summary per post costs more than the
        post itself, and the signals model reads none (its reports summarise the top stories).
        ``ts``: the post's ``parse_event_time(...).timestamp()``, if the caller has it."""
        cfg = self.config
        state = self._state
        stories: dict[str, dict[str, Any]] = state["stories"]
        recent: dict[str, list[Any]] = state["posts"]
        post_id = str(post["id"])
        seen = recent.get(post_id)
        if seen is not None:  # counted already (at-least-once delivery brought it again)
            return self._duplicate(seen[0], seen[1])
        if ts is None:
            ts = parse_event_time(post["created_at"]).timestamp()
        if state["watermark"] is None or ts > state["watermark"]:
            state["watermark"] = ts
        closed = self._expire(state["watermark"])

        parent_id = _parent_id(post)
        parent = None if parent_id is None else recent.get(parent_id)
        if parent is not None and parent[0] not in stories:  # an answer to a closed story
            closed.extend(self._reopen(parent[0]))
        # Answers to this post that arrived before it (a state from before "awaiting" has none).
        awaiting: dict[str, str] | None = state.get("awaiting")
        if awaiting is None:  # not setdefault: that builds a dict per post to throw away
            awaiting = state["awaiting"] = {}
        answers = awaiting.pop(post_id, None)
        answers = answers if answers in stories else None
        depth, root = 0, post_id
        if parent_id is not None:  # an unknown parent is the best root we know of
            depth, root = (
                (1, parent_id) if parent is None else (parent[1] + 1, parent[3] or parent_id)
            )
        words = content_words(post.get("text") or "", self._stop_words)
        signature = None
        if len(words) >= cfg.min_similarity_tokens:
            perms = cfg.minhash_bands * cfg.minhash_rows
            signature = minhash(words, cfg.shingle_size, perms)

        story_id: str | None = None
        children = 0
        if parent_id is not None and parent is not None and parent[0] in stories:
            story_id = parent[0]
            parent[4] += 1
            self.post_changes.touch(parent_id)
            children = parent[4]
        elif answers is not None:  # it joins its answers' story (and, earlier, leads it)
            story_id = answers
        elif parent_id is not None and awaiting.get(parent_id) in stories:
            story_id = awaiting[parent_id]  # its parent is still unseen: with its siblings
        elif signature is not None:
            story_id = self._lsh.most_similar(
                signature, cfg.similarity_threshold, lambda sid: stories[sid]["last_ts"]
            )
        is_new = story_id is None
        if story_id is None:
            story_id = story_id_for(self.subject, post_id)
            if story_id in stories:  # its first post again, forgotten by the recent-post map
                return self._duplicate(story_id, depth, closed)
            closed.extend(self._make_room())
            stories[story_id] = self._new_story(story_id, post, ts, root)
            state["stats"]["opened"] += 1
        else:
            stories[story_id] = stories.pop(story_id)  # now the most recently updated
        self.story_changes.touch(story_id)  # every change below is to this story
        story = stories[story_id]
        self._add_post(story, post, ts, root, depth, children)
        if signature is not None:
            self._add_signature(story_id, story, signature)
        merged: tuple[str, ...] = ()
        if answers is not None:
            if answers != story_id:
                merged = (answers,)
                self._merge(answers, story_id, depth)
            elif depth:
                story["depth"] += depth
            story_repair.reroot(recent, (story_id, *merged), post_id, story_id, root, depth)
            self.post_changes.everything = True  # entries anywhere in the map: write it whole
        if parent_id is not None and parent is None:  # answers wait for their parent
            awaiting.setdefault(parent_id, story_id)
            while len(awaiting) > 4 * cfg.max_active_stories:  # a few unseen parents per story
                del awaiting[next(iter(awaiting))]

        # A root post is its own root: stored as None, as this map is most of the state.
        stored_root = None if root == post_id else root
        recent[post_id] = [story_id, depth, str(post["author"]["id"]), stored_root, 0]
        self.post_changes.touch(post_id)
        while len(recent) > cfg.max_recent_posts:
            dropped = next(iter(recent))
            del recent[dropped]
            self.post_changes.remove(dropped)
        state["stats"]["posts"] += 1
        return StoryStep(story_id, is_new, depth, closed=tuple(closed), merged=merged)

    def _duplicate(self, story_id: str, depth: int, closed: list[str] | None = None) -> StoryStep:
        self._state["stats"]["duplicates"] += 1
        return StoryStep(story_id, False, depth, True, tuple(closed or ()))

    def _new_story(
        self, story_id: str, post: dict[str, Any], ts: float, root: str
    ) -> dict[str, Any]:
        return {
            "id": story_id,
            "first_post": self._first_post(post, ts),
            "first_ts": ts,
            "root": root,
            "platforms": [],  # [platform, first seen], in order of first seen
            "posts": 0,
            "authors": {},  # author id -> followers, at most max_authors_per_story
            "authors_capped": False,
            "audience": 0,
            "depth": 0,
            "breadth": 0,
            "last_ts": ts,
            "reach": 0,  # followers summed over every post (an author posting twice counts twice)
            "reach_points": [],  # [event time, followers], in arrival order, newest last
            "per_minute": [],  # [minute start, posts], oldest first
            "signatures": [],  # hex MinHash signatures, first post's first
        }

    def _first_post(self, post: dict[str, Any], ts: float) -> dict[str, Any]:
        author = post["author"]
        return {
            "id": str(post["id"]),
            "platform": post["platform"],
            "author_id": str(author["id"]),
            "author_handle": author.get("handle"),
            "followers": int(author.get("followers") or 0),
            "created_at": iso_text(post["created_at"], ts),
            "text": (post.get("text") or "")[: self.config.text_chars],
        }

    def _add_post(
        self,
        story: dict[str, Any],
        post: dict[str, Any],
        ts: float,
        root: str,
        depth: int,
        children: int,
    ) -> None:
        cfg = self.config
        story["posts"] += 1
        if ts < story["first_ts"]:  # an earlier post arrived late: it is the origin
            story["first_post"] = self._first_post(post, ts)
            story["first_ts"] = ts
            story["root"] = root
        story["last_ts"] = max(story["last_ts"], ts)
        story["depth"] = max(story["depth"], depth)
        story["breadth"] = max(story["breadth"], children)

        author_id = str(post["author"]["id"])
        followers = int(post["author"].get("followers") or 0)
        authors = story["authors"]
        if author_id not in authors:
            if len(authors) < cfg.max_authors_per_story:
                authors[author_id] = followers
                story["audience"] += followers
            else:
                story["authors_capped"] = True

        platforms = story["platforms"]
        for entry in platforms:
            if entry[0] == post["platform"]:
                entry[1] = min(entry[1], ts)
                break
        else:
            platforms.append([post["platform"], ts])
        if len(platforms) > 1:  # one platform is in order
            platforms.sort(key=lambda entry: entry[1])  # stable: first arrival wins ties

        story["reach"] += followers
        points = story["reach_points"]
        points.append([ts, followers])
        if len(points) > cfg.reach_points:
            del points[0]
        minute = int(ts // 60) * 60
        story_repair.count_minute(story["per_minute"], minute, cfg.velocity_minutes * 60)

    # -- repair ---------------------------------------------------------------------------------

    def _reopen(self, story_id: str) -> list[str]:
        """Reopen a closed story from its kept summary (none kept: nothing to reopen)."""
        state = self.state  # the kept closed stories summarised
        kept = [i for i, s in enumerate(state["closed"]) if s["story_id"] == story_id]
        if not kept:
            return []
        summary = state["closed"].pop(kept[-1])
        self.closed_changes.rewritten = True
        closed = self._make_room()
        story = state["stories"][story_id] = story_repair.reopen(summary)
        self.story_changes.touch(story_id)
        words = content_words(story["first_post"]["text"], self._stop_words)
        if len(words) >= self.config.min_similarity_tokens:
            perms = self.config.minhash_bands * self.config.minhash_rows
            self._add_signature(story_id, story, minhash(words, self.config.shingle_size, perms))
        state["stats"]["reopened"] = state["stats"].get("reopened", 0) + 1
        return closed

    def _merge(self, source_id: str, target_id: str, depth: int) -> None:
        cfg = self.config
        stories = self._state["stories"]
        source = stories.pop(source_id)
        self.story_changes.remove(source_id)
        self.story_changes.touch(target_id)
        story_repair.merge(
            stories[target_id],
            source,
            depth,
            cfg.max_authors_per_story,
            cfg.reach_points,
            cfg.velocity_minutes * 60,
        )
        for signature in self._lsh.drop(source_id):
            self._add_signature(target_id, stories[target_id], signature)
        self._state["stats"]["merged"] = self._state["stats"].get("merged", 0) + 1

    # -- similarity -----------------------------------------------------------------------------

    def _add_signature(
        self, story_id: str, story: dict[str, Any], signature: tuple[int, ...]
    ) -> None:
        if self._lsh.near(story_id, signature, NEAR_DUPLICATE):
            return
        encoded: list[str] = story["signatures"]
        if len(encoded) >= self.config.signatures_per_story:
            if len(encoded) == 1:
                return
            # Keep the first post's signature; the oldest of the others makes way.
            # The index holds a story's signatures in the order of its stored ones.
            del encoded[1]
            self._lsh.remove_at(story_id, 1)
        encoded.append(self._lsh.encoded(signature))
        self._lsh.add(story_id, signature)

    # -- expiry ---------------------------------------------------------------------------------

    def _expire(self, watermark: float) -> list[str]:
        stories = self._state["stories"]
        closed = []
        while stories:
            story_id = next(iter(stories))
            if watermark - stories[story_id]["last_ts"] <= self.config.story_ttl_seconds:
                break
            closed.append(self._close(story_id, "expired"))
        return closed

    def _make_room(self) -> list[str]:
        stories = self._state["stories"]
        closed = []
        while len(stories) >= self.config.max_active_stories:
            closed.append(self._close(next(iter(stories)), "evicted"))
        return closed

    def _close(self, story_id: str, reason: str) -> str:
        state = self._state
        story = state["stories"].pop(story_id)
        self.story_changes.remove(story_id)
        self._lsh.drop(story_id)
        state["stats"][reason] += 1
        if self.config.max_closed_stories:
            # Nothing else holds the story now, so it stays as it is until summarised.
            pending = self._pending
            pending.append((story, reason, state["watermark"]))
            self.closed_changes.appended += 1
            if len(state["closed"]) + len(pending) > self.config.max_closed_stories:
                del (state["closed"] or pending)[0]  # the oldest, summarised or not
                self.closed_changes.dropped += 1
        return story_id

    def _summarise_closed(self) -> None:
        closed = self._state["closed"]
        for pending in self._pending:
            closed.append(self._closed_summary(*pending))
        self._pending.clear()

    def _closed_summary(
        self, story: dict[str, Any], reason: str, watermark: float
    ) -> dict[str, Any]:
        summary = self._summary(story, series=False)
        summary.update(closed=reason, closed_at=iso(watermark))
        return summary

    def closed_story(self, story_id: str) -> dict[str, Any] | None:
        """The latest kept closed summary of a story (the last of its id in
        ``closed_stories``), or None; summarises no other closed story."""
        for pending in reversed(self._pending):  # a closed story stays as it was: a pure
            if pending[0]["id"] == story_id:  # function of it, the same summary as later
                return self._closed_summary(*pending)
        kept = (s for s in reversed(self._state["closed"]) if s["story_id"] == story_id)
        return next(kept, None)

    # -- reading --------------------------------------------------------------------------------
    def _summary(self, story: dict[str, Any], series: bool = True) -> dict[str, Any]:
        return summarize(story, self.subject, self.config.widespread_authors, series)

    def stories(self, top: int | None = None, hot_at: float | None = None) -> list[dict[str, Any]]:
        """Summaries of the active stories, most posts first; with ``hot_at`` (event time,
        epoch seconds), those with the most posts in the 5 minutes before it first (what is
        moving now, ahead of yesterday's big story). Only the ``top`` are summarised."""
        chosen = hottest(self._state["stories"].values(), top, hot_at)
        return [self._summary(story) for story in chosen]

    def hottest_states(self, top: int, hot_at: float) -> list[dict[str, Any]]:
        """The stories ``stories(top, hot_at)`` summarises, as the tracker's own state: for a
        report that reads a few fields of each (``signal_fields``, the series for forecasts).
        Read-only, and only until the next post is learnt."""
        return hottest(self._state["stories"].values(), top, hot_at)

    def signal_fields(
        self, story: dict[str, Any], post_ref_fields: tuple[str, ...]
    ) -> dict[str, Any]:
        """A report's fields of one of ``hottest_states`` (story_summary.signal_fields)."""
        return signal_fields(story, self.config.widespread_authors, post_ref_fields)

    def story(self, story_id: str) -> dict[str, Any] | None:
        story = self._state["stories"].get(story_id)
        return None if story is None else self._summary(story)

    def story_authors(self, story_id: str) -> list[str]:
        """Author ids of an active story (at most max_authors_per_story), first seen first."""
        story = self._state["stories"].get(story_id)
        return [] if story is None else list(story["authors"])

    def closed_stories(self) -> list[dict[str, Any]]:
        """Summaries (without the series) of the most recently closed stories, oldest first."""
        return list(self.state["closed"])

    def root_of(self, post_id: str) -> str | None:
        """Cascade root of a recent post (its earliest known ancestor, or itself)."""
        entry = self._state["posts"].get(str(post_id))
        return None if entry is None else (entry[3] or str(post_id))

    def author_of(self, post_id: str) -> str | None:
        """Author of a recent post (the recent-post map): who a reply or repost was aimed at."""
        entry = self._state["posts"].get(str(post_id))
        return None if entry is None else entry[2]
