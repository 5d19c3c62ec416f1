"""The broker conformance suite (pipeline/runtime/conformance.py) against the session's broker:
every behaviour its profile claims must hold. ``crisiswatch broker --check`` prints the same
checks as a table, unclaimed ones included (README, "The local brokers")."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.runtime.conformance import CHECKS, Check
from pipeline.runtime.conformance_checks import check_changelog_after_restart
from pipeline.runtime.settings import Settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("check", CHECKS, ids=[c.name for c in CHECKS])
async def test_claimed_behaviour_holds(check: Check, broker_settings: Settings) -> None:
    if broker_settings.profile not in check.claimed_by:
        pytest.skip(f"the {broker_settings.profile} profile does not claim it")
    await check.run(broker_settings)


async def test_table_changelog_survives_a_broker_restart(
    broker_settings: Settings, tmp_path: Path
) -> None:
    if broker_settings.local_broker == "tansu":
        pytest.skip("Tansu keeps topics in memory: a restart loses them")
    await check_changelog_after_restart(broker_settings, tmp_path)
