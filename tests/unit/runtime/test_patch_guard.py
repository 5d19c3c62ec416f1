"""Every patch module refuses a dependency version it was not written against, and refuses
before it replaces anything: a refused ``apply()`` leaves the dependency as it was."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import aiokafka
import faust
import pytest
from aiokafka.consumer import fetcher
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.group_coordinator import CoordinatorGroupRebalance, GroupCoordinator
from faust.transport import consumer as faust_consumer
from faust.transport import producer as faust_producer
from faust.transport.drivers import aiokafka as faust_aiokafka

from pipeline.runtime import empty_fetch, exactly_once, faust_patch, group_rejoin, read_committed
from pipeline.runtime.patch_guard import require_version

#: Each patch module, the package whose version it checks, and every internal its apply()
#: replaces (owner, attribute).
PATCHES: dict[str, tuple[Callable[[], None], ModuleType, list[tuple[Any, str]]]] = {
    "empty_fetch": (empty_fetch.apply, aiokafka, [(Fetcher, "_proc_fetch_request")]),
    "group_rejoin": (
        group_rejoin.apply,
        aiokafka,
        [
            (GroupCoordinator, "_send_req"),
            (GroupCoordinator, "reset_generation"),
            (CoordinatorGroupRebalance, "_send_sync_group_request"),
        ],
    ),
    "read_committed": (
        read_committed.apply,
        aiokafka,
        [(fetcher, "MemoryRecords"), (fetcher.PartitionRecords, "__init__")],
    ),
    "faust_patch": (
        faust_patch.apply,
        faust,
        [
            (faust_consumer.Consumer, "_drain_messages"),
            (faust_consumer.Consumer, "perform_seek"),
            (faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer"),
        ],
    ),
    "exactly_once": (
        exactly_once.apply,
        faust,
        [
            (faust_consumer.TransactionManager, "send"),
            (faust_consumer.Consumer, "force_commit"),
            (faust_consumer.Consumer, "_new_offset"),
            (faust_aiokafka.AIOKafkaConsumerThread, "_highwaters"),
            (faust_producer.ProducerBuffer, "_send_pending"),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(PATCHES))
def test_a_refused_apply_replaces_nothing(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    apply, package, internals = PATCHES[name]
    markers = {}
    for owner, attribute in internals:
        marker = object()  # stands where the dependency's own code is: it must stay there
        monkeypatch.setattr(owner, attribute, marker)
        markers[(owner, attribute)] = marker
    monkeypatch.setattr(package, "__version__", "0.0.1")
    with pytest.raises(RuntimeError, match=rf"pipeline\.runtime\.{name} .* not 0\.0\.1: check"):
        apply()
    for (owner, attribute), marker in markers.items():
        assert getattr(owner, attribute) is marker, f"{name} replaced {attribute} and refused"


@pytest.mark.parametrize("name", sorted(PATCHES))
def test_apply_replaces_every_listed_internal(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The list above is the refusal test's reach: a patched internal missing from it would
    # go unchecked, so each must be one that apply() really replaces.
    apply, _package, internals = PATCHES[name]
    marker = object()
    for owner, attribute in internals:
        monkeypatch.setattr(owner, attribute, marker)
    apply()
    for owner, attribute in internals:
        assert getattr(owner, attribute) is not marker, f"{name} left {attribute} as it was"


def test_the_guard_names_what_was_patched_and_what_is_installed() -> None:
    class Package(ModuleType):
        __version__ = "2.0.0"

    with pytest.raises(RuntimeError) as refused:
        require_version("mod", Package("pkg"), frozenset({"1.1.0", "1.0.0"}), "see the loop")
    assert str(refused.value) == "mod was written against pkg 1.0.0, 1.1.0, not 2.0.0: see the loop"
    require_version("mod", Package("pkg"), frozenset({"2.0.0"}), "see the loop")  # no raise
