"""Story repair: cascades that arrive out of order or outlive their story (used by story_index).

Two real-stream cases the plain "join your parent's story" rule gets wrong:

- a reply to a story that has closed (no post for ``story_ttl_seconds``; RumourEval threads get
  answers a day later). Its parent is still in the recent-post map, but the story is gone, so
  the reply opened a story of its own, with itself as the first post. ``reopen`` rebuilds the
  story from its closed summary (kept in the tracker's short ``closed`` list) so the answer
  joins it and the origin stays the thread's source;
- answers that arrive before the post they answer (partitions, retries, clock skew): each
  opened a story rooted at the unseen parent. When the parent arrives, the answers' story is
  merged into the parent's (``merge``) and their roots and depths are rewritten (``reroot``)
  to the parent's own root.

Pure functions on the tracker's dicts. Both repairs are rare next to ordinary posts; ``reroot``
scans the recent-post map (``max_recent_posts`` entries) once per repair.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from schemas.post import parse_event_time


def reopen(summary: dict[str, Any]) -> dict[str, Any]:
    """A closed story's state rebuilt from its summary (``summarize(series=False)``).

    What the summary does not hold starts afresh: the author ids (``authors_before`` keeps
    their count, so an author writing before and after the close counts twice, in the audience
    too, and ``authors_capped`` marks the counts approximate), the reach points and per-minute
    counts, the MinHash signatures (the tracker re-derives the first post's from its text).
    """
    first = dict(summary["first_post"])
    return {
        "id": summary["story_id"],
        "first_post": first,
        "first_ts": parse_event_time(first["created_at"]).timestamp(),
        "root": summary["cascade_root"],
        "platforms": [
            [p["platform"], parse_event_time(p["first_seen"]).timestamp()]
            for p in summary["platforms"]
        ],
        "posts": summary["posts"],
        "authors": {},
        "authors_before": summary["unique_authors"],
        "authors_capped": True,
        "audience": summary["audience"],
        "depth": summary["depth"],
        "breadth": summary["breadth"],
        "last_ts": parse_event_time(summary["last_seen"]).timestamp(),
        "reach": summary["reach"],
        "reach_points": [],
        "per_minute": [],
        "signatures": [],
    }


def merge(
    target: dict[str, Any],
    source: dict[str, Any],
    depth_offset: int,
    max_authors: int,
    max_points: int,
    span_seconds: int,
) -> None:
    """Add ``source``'s posts to ``target``; ``source`` hung ``depth_offset`` hops below
    ``target``'s root. Signatures are the tracker's to move (they are indexed)."""
    target["posts"] += source["posts"]
    target["reach"] += source["reach"]
    if source["first_ts"] < target["first_ts"]:  # the origin is the earliest post of either
        target["first_post"], target["first_ts"] = source["first_post"], source["first_ts"]
    target["last_ts"] = max(target["last_ts"], source["last_ts"])
    target["depth"] = max(target["depth"], source["depth"] + depth_offset)
    target["breadth"] = max(target["breadth"], source["breadth"])
    target["authors_before"] = target.get("authors_before", 0) + source.get("authors_before", 0)
    authors = target["authors"]
    for author_id, followers in source["authors"].items():
        if author_id in authors:
            continue
        if len(authors) < max_authors:
            authors[author_id] = followers
            target["audience"] += followers
        else:
            target["authors_capped"] = True
    target["authors_capped"] = target["authors_capped"] or source["authors_capped"]
    seen = {platform: ts for platform, ts in target["platforms"]}
    for platform, ts in source["platforms"]:
        seen[platform] = min(ts, seen.get(platform, ts))
    target["platforms"] = sorted(([p, t] for p, t in seen.items()), key=lambda e: e[1])
    points = sorted(target["reach_points"] + source["reach_points"], key=lambda p: p[0])
    target["reach_points"] = points[-max_points:]
    minutes = {m: n for m, n in target["per_minute"]}
    for minute, n in source["per_minute"]:
        minutes[minute] = minutes.get(minute, 0) + n
    if minutes:
        newest = max(minutes)
        target["per_minute"] = [
            [m, minutes[m]] for m in sorted(minutes) if m > newest - span_seconds
        ]


def reroot(
    recent: dict[str, list[Any]],
    stories: tuple[str, ...],
    old_root: str,
    story_id: str,
    new_root: str,
    depth_offset: int,
) -> None:
    """Posts of ``stories`` in the recent-post map that hung below ``old_root`` (a post that
    arrived after them) now belong to ``story_id``, below ``new_root``, ``depth_offset`` hops
    deeper. Entries: [story id, depth, author id, root or None (itself), children]."""
    for post_id, entry in recent.items():
        if entry[0] not in stories:
            continue
        entry[0] = story_id
        if (entry[3] or post_id) == old_root and post_id != old_root:
            entry[1] += depth_offset
            entry[3] = None if new_root == post_id else new_root


def count_minute(per_minute: list[list[int]], minute: int, span: int) -> None:
    """One post in ``minute`` into the kept per-minute counts (oldest first, ``span`` s)."""
    if not per_minute or minute > per_minute[-1][0]:
        per_minute.append([minute, 1])
        while per_minute[0][0] <= minute - span:
            del per_minute[0]
    elif minute > per_minute[-1][0] - span:  # late, but still within the kept minutes
        i = bisect_left(per_minute, minute, key=lambda entry: entry[0])
        if i < len(per_minute) and per_minute[i][0] == minute:
            per_minute[i][1] += 1
        else:
            per_minute.insert(i, [minute, 1])
