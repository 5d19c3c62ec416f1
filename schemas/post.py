"""Post: one social-media post in event time, as producers send it and ingest normalises it."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from schemas.base import Record

# Event times outside these years are bad input, not news: the bound is fixed (not "now") so that
# a replay of any stream accepts exactly what the live run accepted.
MIN_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_EVENT_TIME = datetime(2100, 1, 1, tzinfo=UTC)
# A number above this is taken as epoch milliseconds (1e11 s is the year 5138).
_EPOCH_MS_THRESHOLD = 100_000_000_000


def parse_event_time(value: Any) -> datetime:
    """ISO 8601 text (naive = UTC) or epoch seconds/milliseconds -> aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    elif isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("timestamp is not a finite number")
        seconds = value / 1000 if abs(value) >= _EPOCH_MS_THRESHOLD else value
        try:
            parsed = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"epoch timestamp out of range: {value!r}") from None
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 64:
            raise ValueError("timestamp text too long")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO 8601 timestamp: {text[:40]!r}") from None
    else:
        raise ValueError(
            f"timestamp must be ISO 8601 text or epoch number, not {type(value).__name__}"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset that moves it out of datetime's range
        raise ValueError(f"timestamp {str(value)[:40]!r} out of range") from None
    if not MIN_EVENT_TIME <= parsed < MAX_EVENT_TIME:
        raise ValueError(f"timestamp {parsed.isoformat()} outside 2000..2100")
    return parsed


def _identifier(value: Any) -> Any:
    # Platforms hand out numeric ids (tweet ids): accept integers, keep ids as text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _count(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "a count cannot be a boolean")
    return value


_IdInput = Annotated[str, Field(min_length=1, max_length=256)] | int
Identifier = Annotated[
    str,
    Field(min_length=1, max_length=256),
    BeforeValidator(_identifier, json_schema_input_type=_IdInput),
]
#: Producers send ISO 8601 text or epoch seconds/milliseconds.
EventTime = Annotated[
    datetime, BeforeValidator(parse_event_time, json_schema_input_type=datetime | int | float)
]
Language = Annotated[str, Field(max_length=16, pattern=r"^[a-z]{2,3}([-_][a-z0-9]{1,8})*$")]
Url = Annotated[str, Field(max_length=2048, pattern=r"^https?://\S+$")]


class Author(Record):
    id: Identifier
    #: Handle without the leading "@".
    handle: Annotated[str, Field(min_length=1, max_length=64)]
    followers: Annotated[int, Field(ge=0, le=10_000_000_000), BeforeValidator(_count)] = 0

    @field_validator("handle", mode="before")
    @classmethod
    def _strip_at(cls, value: Any) -> Any:
        return value.strip().lstrip("@") if isinstance(value, str) else value


class Post(Record):
    schema_version: Literal[1] = 1
    id: Identifier
    #: Lower-case platform name: twitter, tiktok, youtube, reddit, facebook, news, ...
    platform: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,31}$")]
    author: Author
    #: NFC-normalised; length is capped by the max_text_chars setting at ingest.
    text: str
    #: Event time: when the post was published, UTC.
    created_at: EventTime
    reply_to: Identifier | None = None
    repost_of: Identifier | None = None
    quote_of: Identifier | None = None
    language: Language | None = None
    url: Url | None = None

    @field_validator("platform", "language", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("text", mode="before")
    @classmethod
    def _normalise_text(cls, value: Any) -> Any:
        return unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else value

    @property
    def event_time(self) -> float:
        """Event time in epoch seconds."""
        return self.created_at.timestamp()

    @property
    def parent_id(self) -> str | None:
        """The post this one answers, shares or quotes: its parent in the cascade."""
        return self.repost_of or self.quote_of or self.reply_to


class SubjectPost(Record):
    """A post routed to one monitored subject it mentions (topic ``posts``, key = subject)."""

    schema_version: Literal[1] = 1
    subject: Annotated[str, Field(min_length=1, max_length=64)]
    post: Post


class SubjectPosts(Record):
    """Posts routed to one monitored subject, in their order (topic ``posts``, key = subject).

    Ingest writes a batch's posts of a subject as one record (pipeline/ingest/subject_posts.py):
    the signals stage then takes a Kafka record and a faust event per batch and subject, not per
    post. A ``SubjectPost`` on the topic (one post) is read as well."""

    schema_version: Literal[1] = 1
    subject: Annotated[str, Field(min_length=1, max_length=64)]
    posts: Annotated[list[Post], Field(min_length=1)]
