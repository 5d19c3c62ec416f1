from __future__ import annotations

import base64
from datetime import UTC, datetime

from schemas import DeadLetter, Post, SourcePosition, SubjectPost
from schemas.export import JSONSCHEMA_DIR, json_schemas


def test_post_round_trips_through_orjson() -> None:
    post = Post.model_validate(
        {
            "id": "1",
            "platform": "reddit",
            "author": {"id": "a", "handle": "h"},
            "text": "t",
            "created_at": "2020-05-01T12:00:00+02:00",
            "repost_of": "0",
        }
    )
    data = post.to_bytes()
    assert b'"created_at":"2020-05-01T10:00:00Z"' in data
    assert Post.from_bytes(data) == post
    routed = SubjectPost(subject="acme", post=post)
    assert SubjectPost.from_bytes(routed.to_bytes()) == routed
    assert post.event_time == datetime(2020, 5, 1, 10, tzinfo=UTC).timestamp()


def test_dead_letter_keeps_raw_bytes_and_marks_truncation() -> None:
    source = SourcePosition(topic="posts.raw", partition=0, offset=7)
    whole = DeadLetter.of(b"\xff\x00abc", "bad_encoding", "x", source, key=b"k", max_raw_bytes=10)
    assert whole.raw == b"\xff\x00abc" and not whole.raw_truncated
    assert base64.b64decode(whole.key_base64 or "") == b"k"
    cut = DeadLetter.of(b"z" * 100, "too_large", "x", source, max_raw_bytes=10)
    assert cut.raw == b"z" * 10 and cut.raw_truncated and cut.raw_size == 100
    assert DeadLetter.from_bytes(cut.to_bytes()) == cut


def test_committed_json_schemas_are_current() -> None:
    generated = json_schemas()
    committed = {p.name: p.read_bytes() for p in JSONSCHEMA_DIR.glob("*.json")}
    assert committed == generated, "run `crisiswatch schemas` and commit the result"
