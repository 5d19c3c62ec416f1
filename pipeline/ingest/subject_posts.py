"""Records of the posts topic: a batch's posts of one subject per record, and reading them back.

Ingest routes a batch of raw posts; each subject's share of the batch goes out as SubjectPosts
records (schemas/post.py) of at most ``MAX_POSTS`` posts and about ``MAX_BYTES``, in the posts'
order. One record per post cost the signals stage a Kafka record, a faust event and a schema
check each, which was as much as its models on a dense stream. Posts are checked one by one
when their record fails the schema, so a bad post is dead-lettered alone; a one-post
SubjectPost record (the earlier format) is read too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import Post, SubjectPost, SubjectPosts

#: Posts per record: the signals stage's batches stay a few fetches' worth of posts.
MAX_POSTS = 500
#: About this many bytes per record (one post more at most): inside one producer batch (256 KiB)
#: and far inside the usual 1 MB message limit, whatever the posts' size (each <= max_raw_bytes).
MAX_BYTES = 200 * 1024


def encode(subject: str, posts: list[bytes]) -> list[bytes]:
    """SubjectPosts records (their JSON, as ``SubjectPosts.to_bytes`` writes it) of ``posts``,
    each a Post's JSON, in order."""
    head = b'{"schema_version":1,"subject":' + orjson.dumps(subject) + b',"posts":['
    records: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for post in posts:
        if chunk and (len(chunk) >= MAX_POSTS or size + len(post) > MAX_BYTES):
            records.append(head + b",".join(chunk) + b"]}")
            chunk, size = [], 0
        chunk.append(post)
        size += len(post) + 1
    if chunk:
        records.append(head + b",".join(chunk) + b"]}")
    return records


def one_post(subject: str, post: Any) -> bytes:
    """One post as a one-post SubjectPost record: what a dead letter of a single post holds."""
    return orjson.dumps({"schema_version": 1, "subject": subject, "post": post})


@dataclass
class Decoded:
    subject: str
    #: The valid posts, as JSON dicts, in order.
    posts: list[dict[str, Any]] = field(default_factory=list)
    #: (the post's raw JSON as a one-post SubjectPost, what is wrong) of each invalid post.
    rejected: list[tuple[bytes, str]] = field(default_factory=list)


def decode(value: bytes | None) -> Decoded:
    """The subject and posts of a posts-topic record. Raises if the record is not one (not JSON,
    no subject): the whole record is then the caller's to dead-letter."""
    record = orjson.loads(value or b"")
    if not isinstance(record, dict) or "posts" not in record:
        SubjectPost.model_validate(record)  # the one-post format, or raise
        return Decoded(record["subject"], [record["post"]])
    try:
        SubjectPosts.model_validate(record)
        return Decoded(record["subject"], record["posts"])
    except ValidationError:
        pass
    # Some post is invalid, or the envelope is: check the envelope, then each post alone.
    subject, posts = record.get("subject"), record["posts"]
    if record.get("schema_version", 1) != 1:
        raise ValueError(f"SubjectPosts schema_version {record.get('schema_version')!r} != 1")
    if not isinstance(subject, str) or not 1 <= len(subject) <= 64:
        raise ValueError(f"not a SubjectPosts record: subject {subject!r}")
    if not isinstance(posts, list) or not posts:
        raise ValueError("not a SubjectPosts record: posts is not a list of posts")
    decoded = Decoded(subject)
    for post in posts:
        try:
            Post.model_validate(post)
            decoded.posts.append(post)
        except ValidationError as exc:
            decoded.rejected.append((one_post(subject, post), f"ValidationError: {exc}"))
    return decoded
