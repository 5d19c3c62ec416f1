"""Raw bytes from any producer -> a validated, normalised Post, or the reason it was rejected.

Pure code: no Kafka. Every rejection has one of the bounded reasons of schemas.dead_letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import Post

# pydantic error types -> our reason codes (anything else is "invalid_field").
_TYPE_ERRORS = {
    "string_type",
    "int_type",
    "int_parsing",
    "int_from_float",
    "float_type",
    "model_type",
    "model_attributes_type",
    "dict_type",
    "list_type",
    "bool_type",
    "datetime_type",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Limits:
    max_raw_bytes: int
    max_text_chars: int
    #: A post naming more monitored subjects is dead-lettered (too_many_subjects): one post
    #: must not fan out into thousands of routed copies.
    max_subjects_per_post: int = 20


def validate_raw(raw: bytes | None, limits: Limits) -> Post | Rejection:
    """Decode and validate one raw message; never raises for bad input."""
    if raw is None:
        return Rejection("not_json", "message has no value (tombstone)")
    if len(raw) > limits.max_raw_bytes:
        return Rejection("too_large", f"{len(raw)} bytes > max_raw_bytes {limits.max_raw_bytes}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _json_rejection(raw, exc)
    if not isinstance(data, dict):
        return Rejection("not_object", f"JSON {type(data).__name__}, expected an object")
    version = data.get("schema_version", 1)
    if version != 1 or isinstance(version, bool):
        return Rejection("unsupported_version", f"schema_version {_describe(version)} not 1")
    try:
        post = Post.model_validate(data)
    except ValidationError as exc:
        return _field_rejection(exc)
    if len(post.text) > limits.max_text_chars:
        return Rejection(
            "text_too_long",
            f"text has {len(post.text)} chars > max_text_chars {limits.max_text_chars}",
        )
    return post


def _describe(value: Any) -> str:
    """A short description of an input value; never the repr of a container, which can be nested
    1,000 deep (RecursionError) or huge."""
    if isinstance(value, str | int | float | bool) or value is None:
        return repr(value)[:40]
    return f"a JSON {'array' if isinstance(value, list) else 'object'}"


def _json_rejection(raw: bytes, exc: orjson.JSONDecodeError) -> Rejection:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return Rejection("bad_encoding", f"not UTF-8: {err.reason} at byte {err.start}")
    message = str(exc)
    if "surrogate" in message or "UTF-8" in message:
        return Rejection("bad_encoding", message[:300])
    return Rejection("not_json", message[:300])


def _field_rejection(exc: ValidationError) -> Rejection:
    errors: list[Any] = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(post)'}: {e['msg']}" for e in errors[:5]
    )
    kind = first["type"]
    if kind == "missing":
        reason = "missing_field"
    elif first["loc"] and first["loc"][0] == "created_at":
        reason = "bad_timestamp"
    elif kind in _TYPE_ERRORS:
        reason = "wrong_type"
    else:
        reason = "invalid_field"
    return Rejection(reason, detail[:2000])
