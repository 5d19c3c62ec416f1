"""The story tracker's settings (``StoryConfig``), what one learnt post did (``StoryStep``,
``StoryUpdate``) and how a story is named (``story_id_for``): what the tracker's callers
(``story_index.py``) configure and read, apart from how it tracks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pipeline.models.story_text import MAX_PERMUTATIONS


@dataclass(frozen=True, slots=True)
class StoryConfig:
    #: Estimated Jaccard similarity (of shingle sets) at or above which a post joins a story.
    similarity_threshold: float = 0.5
    #: Words per shingle; 2 keeps word order, so a shared vocabulary alone is not enough.
    shingle_size: int = 2
    #: LSH banding: bands * rows MinHash values (at most 32). 16 x 2 makes a pair at similarity
    #: 0.5 a candidate with probability 0.99 and one at 0.2 with 0.48 (then rejected).
    minhash_bands: int = 16
    minhash_rows: int = 2
    #: Posts with fewer content words get no signature: "lol" must not merge stories.
    min_similarity_tokens: int = 3
    #: Drop common English words, and the subject's own name (it is in nearly every post).
    stop_words: bool = True
    ignore_subject_words: bool = True
    #: Signatures a story is matched against: its first post's plus the newest distinct ones.
    signatures_per_story: int = 3
    #: A story with no post for this long (event time) before the watermark is closed.
    story_ttl_seconds: int = 6 * 3600
    max_active_stories: int = 200
    max_closed_stories: int = 20
    #: Recent post id -> story map, for cascades and ``author_of``; oldest entries go first.
    max_recent_posts: int = 5_000
    #: Distinct authors remembered per story; past it unique_authors and audience are floors.
    max_authors_per_story: int = 200
    #: Recent (event time, followers) points per story, for a reach forecaster (which gets the
    #: story's totals, ``posts`` and ``reach``, for the posts beyond these).
    reach_points: int = 200
    #: Per-minute post counts kept per story (up to its newest post's minute), for velocity.
    velocity_minutes: int = 60
    #: A story is widespread once it reaches 2 platforms or this many distinct authors.
    widespread_authors: int = 10
    text_chars: int = 280

    def __post_init__(self) -> None:
        if not 0.0 < self.similarity_threshold <= 1.0:
            raise ValueError("similarity_threshold must be in (0, 1]")
        if self.minhash_bands * self.minhash_rows > MAX_PERMUTATIONS:
            raise ValueError(f"minhash_bands * minhash_rows must be at most {MAX_PERMUTATIONS}")
        positive = (
            "shingle_size minhash_bands minhash_rows signatures_per_story story_ttl_seconds "
            "max_active_stories max_recent_posts max_authors_per_story reach_points "
            "velocity_minutes widespread_authors text_chars"
        )
        for name in positive.split():
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_closed_stories < 0 or self.min_similarity_tokens < 1:
            raise ValueError("max_closed_stories must be >= 0, min_similarity_tokens >= 1")


@dataclass(frozen=True, slots=True)
class StoryStep:
    """What one post did to the stories (``StoryTracker.learn``)."""

    story_id: str
    is_new_story: bool
    #: This post's cascade depth (hops from its earliest known ancestor).
    depth: int
    #: The post was already counted (at-least-once redelivery): nothing changed.
    duplicate: bool = False
    #: Stories closed (expired or evicted) while handling this post.
    closed: tuple[str, ...] = ()
    #: Stories merged into ``story_id`` by this post (their answers arrived before it).
    merged: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoryUpdate(StoryStep):
    """A step with the story's summary after it (``StoryTracker.learn_one``)."""

    #: The story's summary after this post (see ``StoryTracker.story``).
    story: dict[str, Any] = field(kw_only=True)


def story_id_for(subject: str, first_post_id: str) -> str:
    """Deterministic story id: the same first post of the same subject, the same id."""
    key = f"{subject}\x1f{first_post_id}".encode()
    return hashlib.blake2b(key, digest_size=8).hexdigest()
