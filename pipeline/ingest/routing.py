"""Ingest decisions, without Kafka: raw message -> (post, subjects) or a dead letter.

A post is routed to every subject it names, up to ``Limits.max_subjects_per_post``: past that it
is dead-lettered whole (``too_many_subjects``), so one post can never become thousands.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from pipeline.ingest.validation import Limits, Rejection, validate_raw
from pipeline.ingest.watchlist import WatchList
from schemas import Post, SubjectPost


@dataclass(frozen=True, slots=True)
class Routed:
    post: Post
    #: Monitored subjects the post mentions; empty: processed, but nobody watches it.
    subjects: list[str]
    #: Seen before (a redelivery or a re-sent post): processed, not routed again.
    duplicate: bool = False

    @property
    def outcome(self) -> str:
        if self.duplicate:
            return "duplicate"
        return "routed" if self.subjects else "unmatched"

    def subject_posts(self) -> list[tuple[bytes, bytes]]:
        """(key, value) records for the posts topic, one per subject; none for a duplicate."""
        if self.duplicate:
            return []
        return [
            (subject.encode(), SubjectPost(subject=subject, post=self.post).to_bytes())
            for subject in self.subjects
        ]


class RecentPosts:
    """The last ``capacity`` post keys (platform, id) seen, to drop repeats.

    Delivery is at-least-once and sources re-send (the airline set itself holds 155 repeated
    tweets): a repeat must not count twice towards volume. Memory is bounded by ``capacity``;
    a repeat older than that passes (and so does one after a worker restart).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[tuple[str, str], None] = OrderedDict()

    def learn_one(self, post: Post) -> bool:
        """Remember the post; True if it was new."""
        key = (post.platform, post.id)
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return True


def route(
    raw: bytes | None, limits: Limits, watchlist: WatchList, recent: RecentPosts
) -> Routed | Rejection:
    result = validate_raw(raw, limits)
    if isinstance(result, Rejection):
        return result
    subjects = watchlist.match(result.text, result.author.handle)
    if len(subjects) > limits.max_subjects_per_post:
        # Before the repeat check: a rejected post is not remembered as processed.
        return Rejection(
            "too_many_subjects",
            f"names {len(subjects)} monitored subjects > max_subjects_per_post "
            f"{limits.max_subjects_per_post}",
        )
    if not recent.learn_one(result):
        return Routed(result, [], duplicate=True)
    return Routed(result, subjects)
