"""``crisiswatch stories FILE``: the pipeline's story tracker over a post stream, post by post.

One ``StoryTracker`` (the whole file is one subject) sees the posts in event-time order, or
with ``disorder`` seconds of seeded random delivery delay, as a partitioned or retried feed
delivers them. For each post it gives what the tracker said when the post arrived: its story,
the story's first post, the post's cascade root (its earliest known ancestor), and the story's
origin platform and initiator.

``check`` scores that against the links in the file itself, so any stream in the Post format can
be checked without a data set's own truth: a post's *thread source* is the ancestor reached by
following its parents within the file (a parent missing from the file is the source of what
answers it). It reports the share of answers whose cascade root, as assigned on arrival, is
their thread source (and the share whose story's root is: a story can hold several threads of
the same text), and whether the biggest story's first post is the earliest post in it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.models.story_index import StoryTracker
from pipeline.tools.post_stream import parent_of
from schemas.post import parse_event_time


@dataclass(frozen=True, slots=True)
class Assignment:
    record: dict[str, Any]  # the per-post output line
    posts_in_story: int


def delivery_order(
    posts: Sequence[dict[str, Any]], disorder: float = 0.0, seed: int = 0
) -> list[dict[str, Any]]:
    """The posts as delivered: event-time order, each delayed by up to ``disorder`` seconds."""
    if disorder <= 0.0:
        return list(posts)
    rng = random.Random(seed)
    keyed = [
        (parse_event_time(p["created_at"]).timestamp() + rng.uniform(0.0, disorder), n, p)
        for n, p in enumerate(posts)
    ]
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [p for _, _, p in keyed]


def track(
    posts: Sequence[dict[str, Any]], tracker: StoryTracker | None = None
) -> Iterator[dict[str, Any]]:
    """One output record per post, as assigned when it arrived."""
    tracker = tracker or StoryTracker("stream")
    for post in posts:
        update = tracker.learn_one(post)
        story = update.story
        first = story.get("first_post") or {}
        yield {
            "id": str(post["id"]),
            "story": update.story_id,
            "first_post": first.get("id"),
            "cascade_root": tracker.root_of(str(post["id"])),
            "origin_platform": story.get("origin_platform"),
            "initiator": (story.get("initiator") or {}).get("id"),
            "story_root": story.get("cascade_root"),
            "merged": list(getattr(update, "merged", ())),
        }


def thread_sources(posts: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Post id -> its thread source, following parents within the file (cycle-safe)."""
    parents = {str(p["id"]): parent_of(p) for p in posts}
    sources: dict[str, str] = {}
    for post_id in parents:
        path: list[str] = []
        node = post_id
        while node not in sources and len(path) <= len(parents):
            path.append(node)
            parent = parents.get(node)
            if parent is None or parent not in parents:
                sources[node] = node if parent is None else parent
                break
            node = parent
        source = sources.get(node, node)
        for visited in path:
            sources[visited] = source
    return sources


def check(
    posts: Sequence[dict[str, Any]],
    records: Sequence[dict[str, Any]],
    tracker: StoryTracker | None = None,
) -> dict[str, Any]:
    """Root recovery and origin of the biggest story, against the file's own links; with the
    ``tracker`` after the stream, also the roots it holds at the end (after its repairs)."""
    sources = thread_sources(posts)
    by_id = {str(p["id"]): p for p in posts}
    answers = [r for r in records if parent_of(by_id[r["id"]]) is not None]
    right = sum(1 for r in answers if r["cascade_root"] == sources[r["id"]])
    story_right = sum(1 for r in answers if r["story_root"] == sources[r["id"]])
    first_right = sum(1 for r in answers if r["first_post"] == sources[r["id"]])
    # Final story of each post: its story at arrival, followed through later merges.
    merged_into: dict[str, str] = {}
    for r in records:
        for source in r["merged"]:
            merged_into[source] = r["story"]

    def final(story: str) -> str:
        seen = 0
        while story in merged_into and seen < len(merged_into):
            story, seen = merged_into[story], seen + 1
        return story

    members: dict[str, list[dict[str, Any]]] = {}
    last: dict[str, dict[str, Any]] = {}
    for r in records:
        members.setdefault(final(r["story"]), []).append(by_id[r["id"]])
        last[final(r["story"])] = r
    biggest = max(members, key=lambda s: (len(members[s]), s)) if members else None
    result: dict[str, Any] = {
        "posts": len(records),
        "answers": len(answers),
        "answers_root_is_source": right / len(answers) if answers else None,
        "answers_story_root_is_source": story_right / len(answers) if answers else None,
        "answers_story_first_post_is_source": first_right / len(answers) if answers else None,
        "answers_final_root_is_source": (
            sum(1 for r in answers if tracker.root_of(r["id"]) == sources[r["id"]]) / len(answers)
            if tracker is not None and answers
            else None
        ),
        "stories": len(members),
        "threads": len({sources[str(p["id"])] for p in posts}),
    }
    if biggest is not None:
        posts_in = members[biggest]
        earliest = min(posts_in, key=lambda p: parse_event_time(p["created_at"]))
        first_post = last[biggest]["first_post"]
        result.update(
            biggest_story=biggest,
            biggest_story_posts=len(posts_in),
            biggest_first_post=first_post,
            biggest_first_is_earliest=first_post == str(earliest["id"]),
            biggest_first_is_thread_source=first_post == sources.get(str(first_post)),
        )
    return result
