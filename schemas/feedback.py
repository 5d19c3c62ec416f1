"""Feedback: a labelled post (an ops correction) for the online sentiment model (topic feedback)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.base import Record

SentimentLabel = Literal["negative", "neutral", "positive"]


class Feedback(Record):
    schema_version: Literal[1] = 1
    text: Annotated[str, Field(max_length=10_000)]
    label: SentimentLabel
    #: The post the label is about, when known (for audit; learning needs only text and label).
    post_id: str | None = None
