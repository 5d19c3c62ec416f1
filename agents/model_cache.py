"""Per-subject models kept in memory between batches, read from their table when first needed.

Rebuilding a model from its table state costs more than using it (indexes, unpickling), so an
agent keeps each subject's model object between batches. The cache is dropped at every
rebalance: a subject that moved away and back is reread from the table, which its other owner
kept up to date. Every cache registers here, so one signal handler clears them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pipeline.runtime.app import app

M = TypeVar("M")
_caches: list[ModelCache[Any]] = []


class ModelCache(Generic[M]):
    def __init__(self, load: Callable[[str], M]) -> None:
        self._load = load
        self._models: dict[str, M] = {}
        _caches.append(self)

    def get(self, subject: str) -> M:
        model = self._models.get(subject)
        if model is None:
            model = self._models[subject] = self._load(subject)
        return model

    def items(self) -> list[tuple[str, M]]:
        return list(self._models.items())

    def clear(self) -> None:
        self._models.clear()


@app.on_partitions_revoked.connect
def _forget_models(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    for cache in _caches:
        cache.clear()
