"""Shared fixtures: the broker the integration tests talk to, and per-test settings.

With no CRISISWATCH_BROKER_URL set, the session starts its own local broker (noida-db, or Tansu
with CRISISWATCH_LOCAL_BROKER=tansu) on a free loopback port and stops it at the end; with one
set, the tests run against that Kafka instead. Every test gets its own topic prefix and app id,
so tests never see each other's topics or consumer groups, even on a shared broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.runtime.broker import free_port, local_broker
from pipeline.runtime.settings import Settings


@pytest.fixture(scope="session")
def broker_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    configured = Settings.from_env()
    if configured.broker_url:
        yield configured
        return
    with local_broker(configured, tmp_path_factory.mktemp("broker")) as broker:
        yield configured.replace(broker_url=broker.url, broker_profile=broker.profile)


@pytest.fixture
def settings(broker_settings: Settings, tmp_path: Path) -> Settings:
    """Settings for one test: isolated topics, group and state."""
    run = uuid.uuid4().hex[:10]
    return broker_settings.replace(
        topic_prefix=f"t{run}.",
        app_id=f"crisiswatch-test-{run}",
        state_dir=tmp_path / "state",
        metrics_port=free_port(),
        partitions=2,
        log_level="info",
    )
