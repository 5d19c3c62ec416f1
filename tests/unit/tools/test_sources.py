from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from pipeline.ingest.validation import Limits, validate_raw
from pipeline.runtime.settings import PACKAGE_DATA
from pipeline.tools.sources import read_posts
from schemas import Post

AIRLINE = PACKAGE_DATA / "airline_tweets_2015.csv"


def test_airline_csv_maps_every_row_to_a_valid_post() -> None:
    messages = list(read_posts(AIRLINE))
    assert len(messages) == 14_640
    limits = Limits(max_raw_bytes=65_536, max_text_chars=10_000)
    posts = [validate_raw(m, limits) for m in messages]
    assert all(isinstance(p, Post) for p in posts)
    first = orjson.loads(messages[0])
    assert first["id"] == "570306133677760513"
    assert first["label"] == "neutral"
    post = posts[0]
    assert isinstance(post, Post)
    # 2/24/2015 11:35 Pacific standard time
    assert post.created_at == datetime(2015, 2, 24, 19, 35, tzinfo=UTC)
    assert post.author.id == "anon-570306133677760513"


def test_sorted_by_event_time(tmp_path: Path) -> None:
    times = [post.created_at for post in _posts(read_posts(AIRLINE, sort_by_time=True))]
    assert times == sorted(times)


def test_jsonl_lines_pass_unchanged_even_when_malformed(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"a": 1}\n\nnot json\r\n\xff\xfe\n')
    assert list(read_posts(path)) == [b'{"a": 1}', b"not json", b"\xff\xfe"]
    # Sorting puts what has no readable time last, in input order.
    assert list(read_posts(path, sort_by_time=True)) == [b'{"a": 1}', b"not json", b"\xff\xfe"]


def test_generic_csv(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "id,platform,author_id,author_handle,author_followers,text,created_at,reply_to\n"
        "2,tiktok,u2,bob,50,second,2020-01-01T00:02:00Z,1\n"
        "1,tiktok,u1,ann,,first,2020-01-01T00:01:00Z,\n"
    )
    posts = _posts(read_posts(path, sort_by_time=True))
    assert [(p.id, p.author.handle, p.author.followers, p.reply_to) for p in posts] == [
        ("1", "ann", 0, None),
        ("2", "bob", 50, "1"),
    ]


def _posts(messages: object) -> list[Post]:
    limits = Limits(max_raw_bytes=65_536, max_text_chars=10_000)
    out = []
    for m in messages:  # type: ignore[attr-defined]
        post = validate_raw(m, limits)
        assert isinstance(post, Post)
        out.append(post)
    return out
