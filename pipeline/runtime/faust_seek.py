"""A fix to faust-streaming 0.15.3's ``Consumer.perform_seek``, written as upstream would fix it.

After every rebalance faust's recovery calls ``perform_seek``: it seeks each assigned partition to
its committed offset and sets the consumer's read offset there. faust then drops, silently, every
fetched record below a partition's read offset (``_drain_messages``: "DROPPED MESSAGE ROFF"). Two
positions are wrong for that:

- **A committed offset past the partition's end.** The broker lost records the group had already
  processed and committed (a broker that syncs its log periodically, killed: the group's offsets
  survived, the tail of the log did not). aiokafka fetches from the end, but faust's read offset is
  the committed one, so it drops every new record until the log grows past it: a worker that says
  "ready" and processes nothing (issue 17's broker-restart stall). Every record the log still has
  was processed (it is below the committed offset), so the right position is the end: the fix
  seeks there and says so in one warning.
- **No committed offset.** aiokafka starts such a partition per ``auto_offset_reset`` when it is
  assigned, then fetches it while faust recovers its tables, and faust drops those records (the
  partition is not active yet); ``seek_to_committed`` does not move an uncommitted partition
  back, so they are never processed. Kafka's rule for a partition without a committed offset is
  ``auto_offset_reset``: the fix seeks it back to its first offset when that is "earliest" (the
  pipeline's setting), as aiokafka did at assignment. Changelog partitions are the tables'
  recovery's business and keep their positions.

Where a partition ends is asked through ``EndOffsets``: faust's consumer's ``highwaters``
(ListOffsets) unless ``apply`` is given another. The worker gives the end a fetch answers
(``pipeline.runtime.kafka.fetched_ends``): Tansu 0.6.0 answers ListOffsets with the last batch's
base offset + 1, so every committed offset of a stream it had written in batches looked past
the end, and each rebalance sent the worker back to re-read nearly all of it.

``apply()`` installs it; ``remove()`` puts faust's own back (tests compare both).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from aiokafka.errors import KafkaError
from faust.transport import consumer as faust_consumer

log = logging.getLogger(__name__)

_ORIGINAL_PERFORM_SEEK = faust_consumer.Consumer.perform_seek

#: (consumer, {partition: committed offset}) -> {partition: end offset}, for the partitions it
#: could tell.
EndOffsets = Callable[[Any, dict[Any, int]], Awaitable[Mapping[Any, int]]]


async def listed_ends(consumer: Any, committed: dict[Any, int]) -> Mapping[Any, int]:
    """faust's own answer: ListOffsets(latest) through its consumer."""
    return cast(Mapping[Any, int], await consumer.highwaters(*committed))


_end_offsets: EndOffsets = listed_ends


async def positions_to_fix(consumer: Any, committed: Mapping[Any, int | None]) -> dict[Any, int]:
    """The stream partitions ``perform_seek`` must seek elsewhere than their committed offset,
    sought there (see the module): the end for a committed offset past it, the beginning for
    none. Returns the new position of each partition sought to the end."""
    changelogs = consumer.app.tables.changelog_topics
    streams = {tp: n for tp, n in committed.items() if tp.topic not in changelogs}
    # aiokafka seeks only offsets > 0: a committed 0 is, as None, "nothing processed yet".
    uncommitted = sorted(tp for tp, n in streams.items() if not n or n < 0)
    if uncommitted and consumer.app.conf.consumer_auto_offset_reset == "earliest":
        # An explicit position, not aiokafka's seek_to_beginning: that one is a lazy reset, and
        # the exactly-once work saw a partition read from 0 for one fetch, then go on from
        # where the fetches during recovery had reached.
        for tp, offset in (await consumer.earliest_offsets(*uncommitted)).items():
            await consumer._seek(tp, offset)
    behind = {tp: n for tp, n in streams.items() if n and n > 0}
    ends = await _ends(consumer, behind) if behind else {}
    moved: dict[Any, int] = {}
    for tp in behind:
        end, offset = ends.get(tp), behind[tp]
        if end is not None and offset > end:
            log.warning(
                "%s[%d]: the group's committed offset %d is past the partition's end %d: the "
                "broker lost records already processed; resuming at the end",
                tp.topic,
                tp.partition,
                offset,
                end,
            )
            await consumer._seek(tp, end)
            moved[tp] = end
    return moved


async def _ends(consumer: Any, committed: dict[Any, int]) -> Mapping[Any, int]:
    """The configured lookup; if it fails (its own client could not reach the broker just
    then), faust's, which is what this seek asked before a lookup could be given."""
    try:
        return await _end_offsets(consumer, committed)
    except (KafkaError, OSError) as exc:
        if _end_offsets is listed_ends:
            raise
        log.warning("end offsets by fetch failed (%r): asking ListOffsets instead", exc)
        return await listed_ends(consumer, committed)


async def _perform_seek(self: Any) -> None:  # faust 0.15.3's, with one change marked FIX
    read_offset = self._read_offset
    _committed_offsets = dict(await self.seek_to_committed())
    # FIX: a committed offset past the end, or none, is not where the partition resumes.
    _committed_offsets.update(await positions_to_fix(self, _committed_offsets))
    read_offset.update(
        {
            tp: offset if offset is not None and offset >= 0 else None
            for tp, offset in _committed_offsets.items()
        }
    )
    committed_offsets = {
        faust_consumer.ensure_TP(tp): offset if offset else None
        for tp, offset in _committed_offsets.items()
        if offset is not None
    }
    self._committed_offset.update(committed_offsets)


def apply(end_offsets: EndOffsets = listed_ends) -> None:
    global _end_offsets
    _end_offsets = end_offsets
    cast(Any, faust_consumer.Consumer).perform_seek = _perform_seek


def remove() -> None:
    global _end_offsets
    _end_offsets = listed_ends
    cast(Any, faust_consumer.Consumer).perform_seek = _ORIGINAL_PERFORM_SEEK
