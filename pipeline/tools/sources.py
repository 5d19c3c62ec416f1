"""Reading posts from files for ``produce`` and the demo: JSONL as-is, CSV mapped to Post fields.

Lines are passed on as raw bytes without validation: judging them is ingest's job, and a bad line
must reach the dead-letter topic, not vanish in a tool.

CSV dialects:
- the airline tweets (columns tweet_id, airline_sentiment, airline, text, tweet_created): that
  set has no author columns, so each tweet gets its own anonymous author (``anon-<tweet_id>``,
  0 followers); tweet_created is local time at minute resolution, taken as US Pacific standard
  time (UTC-08:00, as in the original export); the human label travels as ``label``.
- a generic CSV whose columns are Post's fields, with author_id, author_handle, author_followers.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from schemas import parse_event_time

PACIFIC_STANDARD = timezone(timedelta(hours=-8))
AIRLINE_COLUMNS = {"tweet_id", "airline_sentiment", "text", "tweet_created"}
_POST_FIELDS = (
    "id",
    "platform",
    "text",
    "created_at",
    "reply_to",
    "repost_of",
    "quote_of",
    "language",
    "url",
)


def read_posts(path: Path, sort_by_time: bool = False) -> Iterator[bytes]:
    """Raw JSON messages from a .jsonl/.json-lines or .csv file."""
    records = _read_csv(path) if path.suffix.lower() == ".csv" else _read_jsonl(path)
    if not sort_by_time:
        yield from records
        return
    yield from in_event_time_order(records)


def in_event_time_order(messages: Iterable[bytes]) -> list[bytes]:
    """Raw messages sorted by event time, stably (``event_time_key``: unreadable ones last)."""
    keyed = sorted((event_time_key(raw), n, raw) for n, raw in enumerate(messages))
    return [raw for _, _, raw in keyed]


def _read_jsonl(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        for line in fh:
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line


def _read_csv(path: Path) -> Iterator[bytes]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = set(reader.fieldnames or ())
        to_post = _airline_post if columns >= AIRLINE_COLUMNS else _generic_post
        for row in reader:
            yield orjson.dumps(to_post(row))


def _airline_post(row: dict[str, str]) -> dict[str, Any]:
    created = datetime.strptime(row["tweet_created"].strip(), "%m/%d/%Y %H:%M")
    return {
        "id": row["tweet_id"],
        "platform": "twitter",
        "author": {"id": f"anon-{row['tweet_id']}", "handle": "anonymous", "followers": 0},
        "text": row["text"],
        "created_at": created.replace(tzinfo=PACIFIC_STANDARD).isoformat(),
        "language": "en",
        "label": row["airline_sentiment"],
    }


def _generic_post(row: dict[str, str]) -> dict[str, Any]:
    post: dict[str, Any] = {k: row[k] for k in _POST_FIELDS if row.get(k)}
    author: dict[str, Any] = {"id": row.get("author_id"), "handle": row.get("author_handle")}
    if row.get("author_followers"):
        author["followers"] = row["author_followers"]
    post["author"] = author
    return post


def event_time_key(raw: bytes) -> float:
    """A raw message's event time (epoch seconds); inf when unreadable, so such messages sort
    last (ingest will dead-letter them)."""
    try:
        return parse_event_time(orjson.loads(raw)["created_at"]).timestamp()
    except Exception:
        return math.inf


def read_feedback(path: Path) -> Iterator[bytes]:
    """Labelled posts for the feedback topic: the airline CSV's human labels, or JSONL lines
    that already carry ``text`` and ``label`` (passed on as-is)."""
    if path.suffix.lower() != ".csv":
        yield from _read_jsonl(path)
        return
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("airline_sentiment") and row.get("text"):
                yield orjson.dumps(
                    {
                        "text": row["text"],
                        "label": row["airline_sentiment"],
                        "post_id": row.get("tweet_id"),
                    }
                )
