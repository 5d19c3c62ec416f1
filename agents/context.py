"""Writing faust table keys from a batch of events, on the right changelog partition.

faust sends a table write to the changelog partition of the *current* event. Agents here take
events in batches (``stream.take_events``) and write each touched key once per batch; the current
event is then the batch's last, which may come from another partition than the key's own posts.
``event_context(event)`` makes ``event`` current for the write, so the change lands on the
partition that the key's posts (and so its recovery) belong to.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event


@contextmanager
def event_context(event: Any) -> Iterator[None]:
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
