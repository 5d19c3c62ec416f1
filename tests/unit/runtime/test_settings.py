from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pipeline.runtime.settings import DEFAULT_KAFKA_URL, Settings, SettingsError


def test_defaults_listen_on_loopback() -> None:
    settings = Settings.from_env({})
    assert settings.metrics_host == "127.0.0.1"
    assert settings.local_broker == "noida-db"
    assert settings.profile == "kafka" and settings.broker_has_transactions


def test_environment_is_typed() -> None:
    settings = Settings.from_env(
        {
            "CRISISWATCH_PARTITIONS": "8",
            "CRISISWATCH_BROKER_PROFILE": "kafka",
            "CRISISWATCH_STATE_DIR": "/tmp/x",
            "CRISISWATCH_WATCHLIST_PATH": "/tmp/w.toml",
            "OTHER": "ignored",
        }
    )
    assert settings.partitions == 8
    assert settings.broker_profile == "kafka"
    assert settings.state_dir == Path("/tmp/x")
    assert settings.watchlist_file() == Path("/tmp/w.toml")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CRISISWATCH_PARTITIONS": "many"}, "must be a number"),
        ({"CRISISWATCH_BROKER_PROFILE": "redpanda"}, "must be one of"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_broker_url_from_the_local_broker_state_file(tmp_path: Path) -> None:
    settings = Settings.from_env({"CRISISWATCH_STATE_DIR": str(tmp_path)})
    assert settings.resolved_broker_url() == DEFAULT_KAFKA_URL
    settings.broker_state_path.write_bytes(orjson.dumps({"url": "kafka://127.0.0.1:4321"}))
    assert settings.bootstrap_servers() == ["127.0.0.1:4321"]
    explicit = settings.replace(broker_url="kafka://h1:9092;kafka://h2:9092")
    assert explicit.bootstrap_servers() == ["h1:9092", "h2:9092"]


def test_tansu_workarounds_apply_only_on_tansu() -> None:
    tansu = Settings.from_env({"CRISISWATCH_BROKER_PROFILE": "tansu"})
    kafka = Settings.from_env({})
    assert tansu.producer_options() == {"max_batch_size": 1}
    assert kafka.producer_options() == {}
    assert tansu.group_timing()["session_timeout"] == 6.0
    assert kafka.group_timing()["session_timeout"] == 10.0
    assert not tansu.broker_has_transactions


def test_profile_follows_the_running_local_broker(tmp_path: Path) -> None:
    settings = Settings.from_env({"CRISISWATCH_STATE_DIR": str(tmp_path)})
    state = {"url": "kafka://127.0.0.1:4321", "engine": "tansu", "profile": "tansu"}
    settings.broker_state_path.write_bytes(orjson.dumps(state))
    assert settings.is_tansu
    assert not settings.replace(broker_profile="kafka").is_tansu
    # A configured broker URL is not the local broker: its profile is not the local one's.
    assert not settings.replace(broker_url="kafka://elsewhere:9092").is_tansu


def test_child_environment_round_trips() -> None:
    settings = Settings.from_env({"PATH": "/bin"}, partitions=3, topic_prefix="x.")
    env = settings.child_environment()
    assert env["PATH"] == "/bin"
    again = Settings.from_env(env)
    assert again == settings


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SIGNALS_INTERVAL_SECONDS", "0"),
        ("MAX_RAW_BYTES", "-1"),
        ("METRICS_PORT", "99999"),
        ("LOG_LEVEL", "loud"),
        ("PARTITIONS", "0"),
        ("SIGNALS_MAX_AHEAD_SECONDS", "86400"),
        ("WEBHOOK_TIMEOUT_SECONDS", "-5"),
        ("DEDUP_CAPACITY", "1.5"),
    ],
)
def test_settings_that_cannot_work_are_refused_naming_the_variable(
    variable: str, value: str
) -> None:
    # Issue 16, defect 7: these were all accepted and failed later, deep in a worker.
    with pytest.raises(SettingsError, match=f"CRISISWATCH_{variable} must be"):
        Settings.from_env({f"CRISISWATCH_{variable}": value})


def test_settings_are_checked_however_they_are_built() -> None:
    with pytest.raises(SettingsError, match="CRISISWATCH_METRICS_PORT"):
        Settings().replace(metrics_port=-1)
    assert Settings().replace(metrics_port=0).metrics_port == 0  # 0: endpoint off


def test_exactly_once_needs_a_broker_with_transactions() -> None:
    eos = {"CRISISWATCH_PROCESSING_GUARANTEE": "exactly_once"}
    settings = Settings.from_env(eos)
    assert settings.exactly_once and settings.isolation_level() == "read_committed"
    assert Settings.from_env({}).isolation_level() == "read_uncommitted"
    with pytest.raises(SettingsError, match="PROCESSING_GUARANTEE=exactly_once needs broker"):
        Settings.from_env({**eos, "CRISISWATCH_BROKER_PROFILE": "tansu"})
