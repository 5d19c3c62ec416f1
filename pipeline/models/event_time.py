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


@functools.lru_cache(maxsize=4096)
def epoch(text: str) -> float:
    """Epoch seconds of ISO 8601 text. Text without an offset is read as local time, as
    ``datetime`` reads it: the records this is given carry one (``Z`` or ``+hh:mm``)."""
    return datetime.fromisoformat(text).timestamp()
