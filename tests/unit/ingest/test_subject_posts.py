from __future__ import annotations

import orjson
import pytest

from pipeline.ingest import subject_posts
from pipeline.ingest.subject_posts import MAX_BYTES, MAX_POSTS, decode, encode
from schemas import Post, SubjectPost, SubjectPosts


def post(n: int, text: str = "@united my bag is lost") -> Post:
    return Post.model_validate(
        {
            "id": f"p{n}",
            "platform": "twitter",
            "text": text,
            "author": {"id": f"a{n}", "handle": f"user{n}", "followers": n},
            "created_at": f"2015-02-17T10:{n % 60:02d}:00Z",
        }
    )


def test_a_batch_of_one_subject_is_one_record_as_the_schema_writes_it() -> None:
    posts = [post(n) for n in range(3)]
    (record,) = encode("united", [p.to_bytes() for p in posts])
    assert record == SubjectPosts(subject="united", posts=posts).to_bytes()
    decoded = decode(record)
    assert decoded.subject == "united" and not decoded.rejected
    assert decoded.posts == [orjson.loads(p.to_bytes()) for p in posts]


def test_records_are_cut_by_posts_and_by_bytes_keeping_the_order() -> None:
    many = [post(n).to_bytes() for n in range(MAX_POSTS + 7)]
    records = encode("united", many)
    assert [len(orjson.loads(r)["posts"]) for r in records] == [MAX_POSTS, 7]
    big = [post(n, "x" * 20_000).to_bytes() for n in range(25)]  # ~500 KB
    records = encode("united", big)
    assert len(records) == 3 and all(len(r) <= MAX_BYTES + 25_000 for r in records)
    ids = [p["id"] for r in records for p in decode(r).posts]
    assert ids == [f"p{n}" for n in range(25)]


def test_a_one_post_record_of_the_earlier_format_is_read() -> None:
    record = SubjectPost(subject="delta", post=post(1)).to_bytes()
    decoded = decode(record)
    assert decoded.subject == "delta" and [p["id"] for p in decoded.posts] == ["p1"]


def test_a_bad_post_is_rejected_alone_and_a_bad_record_raises() -> None:
    good = [orjson.loads(post(n).to_bytes()) for n in range(3)]
    broken = dict(good[1], created_at="yesterday")
    record = orjson.dumps({"schema_version": 1, "subject": "united", "posts": [good[0], broken]})
    decoded = decode(record)
    assert [p["id"] for p in decoded.posts] == ["p0"]
    ((raw, detail),) = decoded.rejected
    assert orjson.loads(raw) == {"schema_version": 1, "subject": "united", "post": broken}
    assert "created_at" in detail
    for bad in (
        b"not json",
        b"[1, 2]",
        orjson.dumps({"subject": "united"}),
        orjson.dumps({"schema_version": 1, "subject": "", "posts": [good[0]]}),
        orjson.dumps({"schema_version": 2, "subject": "united", "posts": [broken]}),
        orjson.dumps({"schema_version": 1, "subject": "united", "posts": []}),
    ):
        with pytest.raises(ValueError):  # pydantic's ValidationError and orjson's are ValueErrors
            subject_posts.decode(bad)
