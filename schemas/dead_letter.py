"""DeadLetter: input the pipeline could not accept, with the reason (topic posts.dlq).

The raw message is kept up to max_raw_bytes (raw_truncated and raw_size say when it was longer):
a too_large message kept whole, base64 in a letter, could exceed the broker's message size limit
(1 MiB by default) and the letter, and so the message, would be lost.
"""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from pydantic import Field

from schemas.base import Record

#: Bounded set of reasons: also the label values of the dead-letter counter.
Reason = Literal[
    "too_large",  # raw message over max_raw_bytes
    "bad_encoding",  # not UTF-8, or lone surrogates in JSON strings
    "not_json",  # not parseable as JSON (includes nesting past the parser's limit)
    "not_object",  # valid JSON, but not an object
    "unsupported_version",  # schema_version this code does not know
    "missing_field",  # a required field is absent
    "wrong_type",  # a field has the wrong type
    "invalid_field",  # a field has the right type but a bad value (pattern, range, length)
    "bad_timestamp",  # created_at missing its format or outside 2000..2100
    "text_too_long",  # text over max_text_chars
    "too_many_subjects",  # names more monitored subjects than max_subjects_per_post
    "processing_error",  # an unexpected error handling this message (a bug, not bad input)
    "future_timestamp",  # far ahead of its subject's event time, and the stream did not follow
]
REASONS: tuple[str, ...] = Reason.__args__  # type: ignore[attr-defined]


class SourcePosition(Record):
    topic: str
    partition: int
    offset: int
    #: Broker/producer record timestamp, epoch milliseconds.
    timestamp_ms: int | None = None


class DeadLetter(Record):
    schema_version: Literal[1] = 1
    reason: Reason
    #: Human-readable detail: which field and what was wrong.
    detail: Annotated[str, Field(max_length=2000)]
    #: The raw message value, base64; first max_raw_bytes bytes when raw_truncated.
    raw_base64: str
    raw_size: int
    raw_truncated: bool = False
    #: The message key, base64; at most its first max_raw_bytes bytes, like the value.
    key_base64: str | None = None
    source: SourcePosition

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.raw_base64)

    @classmethod
    def of(
        cls,
        raw: bytes,
        reason: str,
        detail: str,
        source: SourcePosition,
        *,
        key: bytes | None = None,
        max_raw_bytes: int,
    ) -> DeadLetter:
        kept = raw[:max_raw_bytes]
        return cls(
            reason=reason,
            detail=detail[:2000],
            raw_base64=base64.b64encode(kept).decode("ascii"),
            raw_size=len(raw),
            raw_truncated=len(kept) < len(raw),
            key_base64=(
                base64.b64encode(key[:max_raw_bytes]).decode("ascii") if key is not None else None
            ),
            source=source,
        )
