"""The perform_seek fix (pipeline/runtime/faust_seek.py): where each kind of partition resumes.

The consumer here records the seeks asked of it and answers end offsets from a table; the real
thing (a noida-db whose group offsets are past the log's end) is
tests/integration/test_broker_faults.py::test_a_committed_offset_past_the_end_does_not_silence_the_worker.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka.errors import KafkaConnectionError
from faust.types import TP

from pipeline.runtime import faust_patch, faust_seek

RAW, POSTS, CHANGELOG = TP("posts.raw", 0), TP("posts", 1), TP("app-state-changelog", 0)


class SeekRecorder:
    """The part of faust's aiokafka consumer that perform_seek uses, recording every seek."""

    def __init__(self, committed: dict[TP, int | None], ends: dict[TP, int], reset: str) -> None:
        self.committed, self.ends = committed, ends
        self.to_offset: dict[TP, int] = {}
        self._read_offset: dict[TP, int | None] = {}
        self._committed_offset: dict[TP, int | None] = {}
        self.app = SimpleNamespace(
            tables=SimpleNamespace(changelog_topics={CHANGELOG.topic}),
            conf=SimpleNamespace(consumer_auto_offset_reset=reset),
        )

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: 3 for tp in tps}  # retention removed offsets 0-2

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return dict(self.committed)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in tps}

    async def _seek(self, tp: TP, offset: int) -> None:
        self.to_offset[tp] = offset


async def seek(consumer: Any) -> None:
    await faust_seek._perform_seek(consumer)


async def test_a_committed_offset_past_the_end_resumes_at_the_end() -> None:
    consumer = SeekRecorder({RAW: 510, POSTS: 40}, {RAW: 10, POSTS: 90}, "earliest")
    await seek(consumer)
    assert consumer.to_offset == {RAW: 10}  # the other one stays at its committed offset
    assert consumer._read_offset == {RAW: 10, POSTS: 40}
    assert consumer._committed_offset == {RAW: 10, POSTS: 40}


async def test_a_committed_offset_at_the_end_is_left_alone() -> None:
    consumer = SeekRecorder({RAW: 10}, {RAW: 10}, "earliest")
    await seek(consumer)
    assert consumer.to_offset == {} and consumer._read_offset == {RAW: 10}


@pytest.mark.parametrize("committed", [None, 0])
async def test_an_uncommitted_stream_partition_goes_back_to_the_beginning(
    committed: int | None,
) -> None:
    consumer = SeekRecorder({RAW: committed, CHANGELOG: None}, {RAW: 10, CHANGELOG: 5}, "earliest")
    await seek(consumer)
    assert consumer.to_offset == {RAW: 3}  # the changelog is the table recovery's business
    assert consumer._read_offset[RAW] in (None, 0)  # every record passes again


async def test_latest_keeps_aiokafkas_position() -> None:
    consumer = SeekRecorder({RAW: None}, {RAW: 10}, "latest")
    await seek(consumer)
    assert consumer.to_offset == {}


async def test_the_end_offsets_given_to_apply_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker whose ListOffsets says 1 where a fetch says 600 (Tansu 0.6.0 after one batch):
    with the fetch's answer given to apply(), a committed 510 is not past the end."""
    asked: list[dict[Any, int]] = []

    async def fetched(consumer: Any, committed: dict[Any, int]) -> dict[Any, int]:
        asked.append(dict(committed))
        return {tp: 600 for tp in committed}

    consumer_class: Any = faust.transport.consumer.Consumer
    # Whatever this process had installed comes back after the test.
    monkeypatch.setattr(faust_seek, "_end_offsets", faust_seek._end_offsets)
    monkeypatch.setattr(consumer_class, "perform_seek", consumer_class.perform_seek)
    consumer = SeekRecorder({RAW: 510, CHANGELOG: 7}, {RAW: 1, CHANGELOG: 1}, "earliest")
    faust_seek.apply(fetched)
    await seek(consumer)
    assert asked == [{RAW: 510}]  # stream partitions with a committed offset, nothing else
    assert consumer.to_offset == {} and consumer._read_offset == {RAW: 510, CHANGELOG: 7}
    faust_seek.apply()  # the default: faust's ListOffsets, and 510 is past its 1
    await seek(consumer)
    assert consumer.to_offset == {RAW: 1}


async def test_a_failed_end_offset_lookup_falls_back_to_faust_s_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def unreachable(consumer: Any, committed: dict[Any, int]) -> dict[Any, int]:
        raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9)]")

    consumer_class: Any = faust.transport.consumer.Consumer
    monkeypatch.setattr(faust_seek, "_end_offsets", faust_seek._end_offsets)
    monkeypatch.setattr(consumer_class, "perform_seek", consumer_class.perform_seek)
    faust_seek.apply(unreachable)
    consumer = SeekRecorder({RAW: 510}, {RAW: 10}, "earliest")
    await seek(consumer)
    assert consumer.to_offset == {RAW: 10}  # faust's ListOffsets answered instead


def test_apply_installs_the_seek_fix_and_remove_takes_it_out() -> None:
    consumer_class: Any = faust.transport.consumer.Consumer
    faust_patch.apply()
    assert consumer_class.perform_seek is faust_seek._perform_seek
    faust_patch.remove()
    assert consumer_class.perform_seek is faust_seek._ORIGINAL_PERFORM_SEEK
    faust_patch.apply()  # as the app leaves it
