"""An empty fetch that a broker answers at once: wait a little before the next one.

A Kafka consumer's fetch asks the broker to hold it until there is data (``min_bytes``) or
``max_wait_ms`` has passed: the long poll that makes an idle consumer cost nothing. noida-db 0.2.3
(the embedded broker) ignores both and answers a fetch with nothing in it at once, and aiokafka's
fetcher sends that node its next fetch as soon as the answer is handled. Every consumer that has
caught up then spins: an aiokafka consumer on an idle partition took 80-87% of a core here, with
any ``max_wait_ms`` or ``min_bytes``; a worker with nothing to do took 109% (faust's consumer in
its thread, the feedback consumer on the agents' loop), and the broker about as much again to
answer them. Under a light load the spin competes with the agents for the GIL and the two cores.

The fix, where an upstream client would make it, in the fetcher: a fetch that brought no records
back sooner than its ``max_wait_ms`` is followed, for that node, by a pause of ``POLL_SECONDS``
(never past the fetch's max wait) before the next. A record that arrives in the pause waits
for its end: at most ``POLL_SECONDS`` per hop. A broker that holds fetches as Kafka does
(Tansu) never answers an empty fetch early, so nothing changes there. ``apply()`` refuses an
aiokafka version it was not written against.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiokafka
from aiokafka.consumer.fetcher import Fetcher

from pipeline.runtime.patch_guard import require_version

PATCHED_VERSIONS = frozenset({"0.14.0"})
#: The pause after an early empty fetch: an idle consumer then fetches ~200 times a second
#: instead of thousands, and a record that arrives meanwhile waits 2.5 ms on average.
POLL_SECONDS = 0.005
_ORIGINAL = Fetcher._proc_fetch_request


async def _proc_fetch_request(self: Any, assignment: Any, node_id: int, request: Any) -> bool:
    sent = time.monotonic()
    has_records: bool = await _ORIGINAL(self, assignment, node_id, request)
    if not has_records:
        # Within its max wait a broker answers a fetch only with data: an answer without is a
        # broker that does not hold fetches.
        pause = min(POLL_SECONDS, self._fetch_max_wait_ms / 1000 - (time.monotonic() - sent))
        if pause > 0:
            try:
                await asyncio.sleep(pause)
            except asyncio.CancelledError:
                # As the fetch itself does: a cancelled fetch (unassigned, closing) brought
                # nothing, and the fetcher's routine reads its result.
                return False
    return has_records


def apply() -> None:
    """Install the pause (idempotent)."""
    require_version(
        "pipeline.runtime.empty_fetch",
        aiokafka,
        PATCHED_VERSIONS,
        "check that the fetcher still sends a node's next fetch as soon as the last one is handled",
    )
    Fetcher._proc_fetch_request = _proc_fetch_request
