from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from pipeline.ingest.validation import Limits, Rejection, validate_raw
from schemas import Post

LIMITS = Limits(max_raw_bytes=4096, max_text_chars=300)


def raw(**changes: object) -> bytes:
    body: dict[str, object] = {
        "id": "1",
        "platform": "twitter",
        "author": {"id": "a1", "handle": "alice", "followers": 10},
        "text": "@united where is my bag",
        "created_at": "2015-02-20T10:00:00Z",
    }
    body.update(changes)
    return orjson.dumps({k: v for k, v in body.items() if v is not ...})


def reason(data: bytes | None) -> str:
    result = validate_raw(data, LIMITS)
    assert isinstance(result, Rejection), result
    return result.reason


def test_valid_post_is_normalised() -> None:
    post = validate_raw(
        raw(
            id=12345,
            platform=" Twitter ",
            author={"id": 7, "handle": "@Alice"},
            text="  Cafe\u0301 @united  ",
            created_at="2015-02-20T02:00:00-08:00",
            language="EN",
        ),
        LIMITS,
    )
    assert isinstance(post, Post)
    assert post.id == "12345"
    assert post.platform == "twitter"
    assert post.author.id == "7" and post.author.handle == "Alice" and post.author.followers == 0
    assert post.text == "Café @united"  # NFC, stripped
    assert post.created_at == datetime(2015, 2, 20, 10, 0, tzinfo=UTC)
    assert post.language == "en"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2015-02-20T10:00:00", datetime(2015, 2, 20, 10, tzinfo=UTC)),  # naive = UTC
        (1424426400, datetime(2015, 2, 20, 10, tzinfo=UTC)),  # epoch seconds
        (1424426400000, datetime(2015, 2, 20, 10, tzinfo=UTC)),  # epoch milliseconds
        (1424426400.5, datetime(2015, 2, 20, 10, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_event_time_forms(value: object, expected: datetime) -> None:
    post = validate_raw(raw(created_at=value), LIMITS)
    assert isinstance(post, Post)
    assert post.created_at == expected


def test_parent_ids_and_parent() -> None:
    post = validate_raw(raw(reply_to=9, quote_of="q1"), LIMITS)
    assert isinstance(post, Post)
    assert post.reply_to == "9"
    assert post.parent_id == "q1"  # a quote's parent is what it quotes


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, "not_json"),
        (b"", "not_json"),
        (b"{'single': 'quotes'}", "not_json"),
        (b"[" * 5000 + b"]" * 5000, "too_large"),
        (b"[" * 2000 + b"]" * 2000, "not_json"),  # nesting past the parser's limit
        (b"\xc3\x28", "bad_encoding"),
        (b'{"text": "\\ud800"}', "bad_encoding"),  # lone surrogate
        (b"42", "not_object"),
        (b"null", "not_object"),
        (raw(schema_version=2), "unsupported_version"),
        (raw(schema_version=True), "unsupported_version"),
        (raw(id=...), "missing_field"),
        (raw(author={"id": "a"}), "missing_field"),
        (raw(text=None), "wrong_type"),
        (raw(text=["a"]), "wrong_type"),
        (raw(author="alice"), "wrong_type"),
        (raw(author={"id": "a", "handle": "h", "followers": True}), "wrong_type"),
        (raw(author={"id": "a", "handle": "h", "followers": -1}), "invalid_field"),
        (raw(platform="two words"), "invalid_field"),
        (raw(url="javascript:alert(1)"), "invalid_field"),
        (raw(id=""), "invalid_field"),
        (raw(created_at="yesterday"), "bad_timestamp"),
        (raw(created_at="1999-12-31T23:59:59Z"), "bad_timestamp"),
        (raw(created_at=True), "bad_timestamp"),
        (raw(created_at=1e30), "bad_timestamp"),
        (raw(created_at=...), "missing_field"),
        (raw(text="x" * 301), "text_too_long"),
    ],
)
def test_rejections(data: bytes | None, expected: str) -> None:
    assert reason(data) == expected


def test_rejection_detail_names_the_field() -> None:
    result = validate_raw(raw(author={"id": "a", "handle": "h", "followers": "lots"}), LIMITS)
    assert isinstance(result, Rejection)
    assert "author.followers" in result.detail
