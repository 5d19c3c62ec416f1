"""Event times between ISO 8601 text (as records carry them) and epoch seconds (as the models
compute with them), both remembered: the same few times come back again and again, and each is
a pure function of its input, so a remembered value is the value.

- ``iso``: a story's first post's time is its first platform's and, while it has one post, its
  last; the watermark that dates a close is the time of the post that opens the next story.
- ``epoch``: a top story's start is read on each report; a report's ``as_of`` five to six times
  as the detector scores it.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

_ISO: dict[float, str] = {}
_ISO_KEPT = 4096


def iso(ts: float) -> str:
    """ISO 8601 UTC text of an epoch time (``Z``, microseconds when not 0)."""
    text = _ISO.get(ts)
    if text is None:
        if len(_ISO) >= _ISO_KEPT:
            _ISO.clear()
        text = _ISO[ts] = datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")
    return text


# Text exactly as ``iso`` writes a time: UTC with Z, microseconds (6 digits) only when not 0.
# Such text is the iso of its own parsed time (in 2000..2100 a float epoch time keeps its
# microseconds, so the round trip gives them back), so it is taken as it is.
_ISO_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.(?!0{6})[0-9]{6})?Z"
)


def iso_text(text: object, ts: float) -> str:
    """``iso(ts)`` of a time ``ts`` read from ``text``: ``text`` itself when it is already
    what ``iso`` writes (a post's created_at, as ingest writes it), which a match checks in a
    tenth of the time formatting takes."""
    if isinstance(text, str) and _ISO_TEXT.fullmatch(text):
        return text
    return iso(ts)


@functools.lru_cache(maxsize=4096)
def epoch(text: str) -> float:
    """Epoch seconds of ISO 8601 text. Text without an offset is read as local time, as
    ``datetime`` reads it: the records this is given carry one (``Z`` or ``+hh:mm``)."""
    return datetime.fromisoformat(text).timestamp()
