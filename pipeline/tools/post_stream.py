"""A file of posts (Post JSONL, or a CSV ``read_posts`` knows) as validated dicts in event-time
order, for the tools that run one model over a whole stream (``stories``, ``forecast``).

Any public set converted to the Post format works: nothing here knows a data set. Lines that
ingest would dead-letter are skipped and counted by reason, as the pipeline would count them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.ingest.validation import Limits, Rejection, validate_raw
from pipeline.tools.sources import read_posts


@dataclass(slots=True)
class PostStream:
    #: Valid posts as JSON dicts, in event-time order (file order among equal times).
    posts: list[dict[str, Any]] = field(default_factory=list)
    #: Lines rejected, by dead-letter reason.
    rejected: Counter[str] = field(default_factory=Counter)


def load_posts(path: Path, limits: Limits | None = None) -> PostStream:
    limits = limits or Limits(max_raw_bytes=65_536, max_text_chars=10_000)
    stream = PostStream()
    keyed = []
    for n, raw in enumerate(read_posts(path)):
        checked = validate_raw(raw, limits)
        if isinstance(checked, Rejection):
            stream.rejected[checked.reason] += 1
            continue
        keyed.append((checked.created_at.timestamp(), n, checked.model_dump(mode="json")))
    keyed.sort(key=lambda item: (item[0], item[1]))
    stream.posts = [post for _, _, post in keyed]
    return stream


def parent_of(post: dict[str, Any]) -> str | None:
    """The post a post reacts to: repost, else quote, else reply (as the story tracker reads)."""
    parent = post.get("repost_of") or post.get("quote_of") or post.get("reply_to")
    return None if parent is None else str(parent)
