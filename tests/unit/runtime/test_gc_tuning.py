"""The collector tuning a crisiswatch process applies after its imports (pipeline/runtime/
gc_tuning.py): the heap as it was is frozen out of collections, the youngest generation's
threshold is the setting's, and cyclic garbage made later is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pipeline.runtime import gc_tuning
from pipeline.runtime.settings import Settings, SettingsError


@pytest.fixture
def restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.mark.usefixtures("restored")
def test_tune_freezes_the_heap_and_sets_the_threshold() -> None:
    before = gc.get_threshold()
    gc_tuning.tune(12_345)
    assert gc.get_freeze_count() > 1_000  # the imported modules, at least
    assert gc.get_threshold() == (12_345, *before[1:])
    # A cycle made after the freeze is garbage the collector still finds.
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None


@pytest.mark.usefixtures("restored")
def test_zero_keeps_cpythons_threshold() -> None:
    before = gc.get_threshold()
    gc_tuning.tune(0)
    assert gc.get_threshold() == before


def test_the_setting_defaults_to_50000_and_refuses_a_negative() -> None:
    assert Settings().gc_threshold == 50_000
    with pytest.raises(SettingsError, match="CRISISWATCH_GC_THRESHOLD"):
        Settings.from_env({"CRISISWATCH_GC_THRESHOLD": "-1"})
