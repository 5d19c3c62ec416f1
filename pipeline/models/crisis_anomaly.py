"""The anomaly evidence of a crisis score: river's HalfSpaceTrees on a subject's report
aggregates, learnt from its ordinary reports only, stored by change (``hst_state.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from river import anomaly

from pipeline.models import hst_state
from pipeline.models.crisis_config import ScoreConfig, ramp


class AnomalyModel:
    """HalfSpaceTrees on a subject's aggregates, stored in two parts (pipeline/models/
    hst_state.py): ``structure`` (the whole model, pickled, written once its trees are built) and
    ``masses`` (what learning changes). ``take_changes`` gives the parts changed since its last
    call, so a table is written only what changed. A ``state`` of the older format (the whole
    model in one, ``{"learned", "model"}``) still loads; its parts are then all changed."""

    def __init__(
        self,
        cfg: ScoreConfig,
        state: dict[str, Any] | None = None,
        parts: Mapping[str, dict[str, Any] | None] | None = None,
    ) -> None:
        self.cfg = cfg
        structure = (parts or {}).get("structure")
        if structure:
            self.model = hst_state.unpack_model(structure["model"])
            masses = (parts or {}).get("masses")
            if masses:
                hst_state.apply_masses(self.model, masses)
            self.learned = int(masses["learned"]) if masses else 0
            self._written: tuple[bool, int] | None = (bool(self.model.trees), self.learned)
        elif state and state.get("model"):  # the older format: everything in one value
            self.model = hst_state.unpack_model(state["model"])
            self.learned = int(state["learned"])
            self._written = None
        else:
            self.model = anomaly.HalfSpaceTrees(
                n_trees=cfg.anomaly_trees,
                height=cfg.anomaly_height,
                window_size=cfg.anomaly_window,
                seed=cfg.anomaly_seed,
            )
            self.learned = 0
            self._written = None

    @property
    def state(self) -> dict[str, Any]:
        """The whole model in one value (the older format; loads as it always did)."""
        return {"learned": self.learned, "model": hst_state.pack_model(self.model)}

    def take_changes(self) -> dict[str, dict[str, Any]]:
        """The parts changed since the last call (a version check, nothing serialised to
        compare): ``structure`` when the trees were built since (or never written), ``masses``
        when it learnt since."""
        built = bool(self.model.trees)
        changes: dict[str, dict[str, Any]] = {}
        if self._written is None or self._written[0] != built:
            changes["structure"] = {"model": hst_state.pack_model(self.model)}
        if self._written is None or self._written[1] != self.learned or changes:
            changes["masses"] = {"learned": self.learned, **hst_state.pack_masses(self.model)}
        self._written = (built, self.learned)
        return changes

    def score_one(self, x: dict[str, float]) -> float | None:
        if self.learned < self.cfg.anomaly_warm_reports:
            return None  # has not seen enough ordinary reports to tell unusual ones
        return ramp(float(self.model.score_one(x)), self.cfg.anomaly_score)

    def learn_one(self, x: dict[str, float]) -> None:
        self.model.learn_one(x)
        self.learned += 1
