"""Story summaries: what a reader of one subject's stories sees (origin, spread, reach).

Pure functions on a story's state (the dicts ``StoryTracker`` in ``story_index.py`` keeps), so
that the tracker's learning path and what reports read stay apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pipeline.models.event_time import iso


def summarize(
    story: dict[str, Any], subject: str, widespread_authors: int, series: bool = True
) -> dict[str, Any]:
    """One story's summary: first post, origin platform, initiator, cascade root, platforms in
    the order reached, size; with ``series``, its recent reach points and per-minute counts."""
    summary = _described(story, widespread_authors, dict(story["first_post"]))
    summary.update(subject=subject, reach=story["reach"], authors_capped=story["authors_capped"])
    if series:
        summary["reach_points"] = [[t, f] for t, f in story["reach_points"]]
        summary["per_minute"] = [[m, n] for m, n in story["per_minute"]]
    return summary


def signal_fields(
    story: dict[str, Any], widespread_authors: int, post_ref_fields: tuple[str, ...]
) -> dict[str, Any]:
    """The fields of a report's story (schemas.signals.StorySignal) read straight from the
    story's state, in the schema's order, up to ``spread`` (``first_post`` with its
    ``post_ref_fields``): the report adds velocity, negative share, forecast and leaders.
    What ``summarize`` gives, without the copies of the series and the fields a report drops
    (a report per subject-minute made those copies a tenth of a sparse stream's report time)."""
    first = story["first_post"]
    return _described(story, widespread_authors, {k: first[k] for k in post_ref_fields})


def _described(
    story: dict[str, Any], widespread_authors: int, first_post: dict[str, Any]
) -> dict[str, Any]:
    """What a summary and a report's story both say of a story, in the report's order."""
    first = story["first_post"]
    # A reopened story has forgotten who wrote before it closed: an author of both times counts
    # twice (``authors_capped`` says the count is approximate).
    authors = len(story["authors"]) + story.get("authors_before", 0)
    platforms = [{"platform": p, "first_seen": iso(t)} for p, t in story["platforms"]]
    widespread = len(platforms) >= 2 or authors >= widespread_authors
    return {
        "story_id": story["id"],
        "first_post": first_post,
        "origin_platform": first["platform"],
        "initiator": {
            "id": first["author_id"],
            "handle": first["author_handle"],
            "followers": first["followers"],
        },
        "cascade_root": story["root"],
        "platforms": platforms,
        "posts": story["posts"],
        "unique_authors": authors,
        "audience": story["audience"],
        "depth": story["depth"],
        "breadth": story["breadth"],
        "started_at": first["created_at"],
        "last_seen": iso(story["last_ts"]),
        "spread": "widespread" if widespread else "isolated",
    }


def hottest(
    stories: Iterable[dict[str, Any]], top: int | None = None, hot_at: float | None = None
) -> list[dict[str, Any]]:
    """The stories, most posts first; with ``hot_at`` (event time,
    epoch seconds), those with the most posts in the 5 minutes before it first (what is
    moving now, ahead of yesterday's big story). Only the ``top`` are kept."""
    start = -math.inf if hot_at is None else hot_at - 300

    def key(story: dict[str, Any]) -> tuple[int, int, float, str]:
        recent = 0
        # Most stories had no post in the window: their last post says so without a scan.
        if hot_at is not None and story["last_ts"] >= start:
            for minute, n in reversed(story["per_minute"]):  # oldest first: scan from the end
                if minute < start:
                    break
                if minute < hot_at:
                    recent += n
        return (-recent, -story["posts"], story["first_ts"], story["id"])

    # sorted()[:top] is what heapq.nsmallest gives (keys are unique: they end in the id), and
    # a sort in C beats nsmallest's Python loop on a subject's few dozen active stories.
    ranked = sorted(stories, key=key)
    return ranked if top is None else ranked[:top]
