"""A user's mistake ends a command with one line naming it and a non-zero exit (issue 16, 9).

Each case runs the real ``crisiswatch`` command in a subprocess (no broker needed: where one is
named, it is a closed loopback port) and checks stderr: one line, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

NO_BROKER = "kafka://127.0.0.1:1"  # loopback, nothing listens on port 1


def crisiswatch(tmp_path: Path, *args: str, **env: str) -> tuple[int, list[str]]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CRISISWATCH_")}
    environment.update(
        {
            "CRISISWATCH_BROKER_URL": NO_BROKER,
            "CRISISWATCH_STATE_DIR": str(tmp_path / "state"),
            "CRISISWATCH_METRICS_PORT": "0",
            **env,
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # aiokafka logs its own connection failures: a log record, not our error line.
    lines = [
        line
        for line in (done.stderr + done.stdout).splitlines()
        if line.strip() and "[ERROR] Unable connect to" not in line
    ]
    return done.returncode, lines


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


@pytest.mark.parametrize(
    ("case", "args", "env", "says"),
    [
        ("bad setting", ["schemas"], {"CRISISWATCH_METRICS_PORT": "99999"}, "METRICS_PORT"),
        ("bad setting", ["schemas"], {"CRISISWATCH_LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ("missing watch list", ["schemas"], {"WATCHLIST": None}, "watchlist.toml"),
        ("empty watch list", ["schemas"], {"WATCHLIST": ""}, "watchlist.toml"),
        ("malformed watch list", ["schemas"], {"WATCHLIST": "[[subjects]\nid ="}, "not valid"),
        ("missing input file", ["produce", "missing.jsonl"], {}, "missing.jsonl"),
        ("no broker", ["produce", "posts.jsonl"], {}, "no broker at kafka://127.0.0.1:1"),
        ("no subjects", ["simulate", "--subjects", "0"], {}, "subjects"),
        ("negative days", ["simulate", "--days", "-1"], {}, "days"),
        (
            "malformed truth file",
            ["evaluate", "--offline", "--posts", "posts.jsonl", "--truth", "posts.jsonl"],
            {},
            "not a valid CrisisTruth",
        ),
    ],
)
def test_one_clear_line_and_a_non_zero_exit(
    tmp_path: Path, case: str, args: list[str], env: dict[str, str | None], says: str
) -> None:
    environment = {k: v for k, v in env.items() if k != "WATCHLIST" and v is not None}
    if "WATCHLIST" in env:
        text = env["WATCHLIST"]
        path = tmp_path / "watchlist.toml"
        if text is not None:
            path.write_text(text)
        environment["CRISISWATCH_WATCHLIST_PATH"] = str(path)
    (tmp_path / "posts.jsonl").write_text('{"id": "1"}\n')
    code, lines = crisiswatch(tmp_path, *args, **environment)
    assert code != 0, case
    assert len(lines) == 1 and says in lines[0] and lines[0].startswith("crisiswatch"), lines
    assert not (tmp_path / "simulation").exists()  # nothing half-written


def test_a_worker_whose_metrics_port_is_taken_stops_before_joining(
    tmp_path: Path, busy_port: int
) -> None:
    code, lines = crisiswatch(
        tmp_path, "worker", "--without-web", CRISISWATCH_METRICS_PORT=str(busy_port)
    )
    assert code != 0
    assert lines == [
        f"crisiswatch worker: metrics port 127.0.0.1:{busy_port} is not free (Address already "
        "in use); set CRISISWATCH_METRICS_PORT (0: no endpoint)"
    ]


def test_a_worker_without_a_broker_says_so_in_one_line(tmp_path: Path) -> None:
    code, lines = crisiswatch(tmp_path, "worker", "--without-web")
    assert code != 0
    assert lines == [
        f"crisiswatch worker: no broker at {NO_BROKER}: start one (crisiswatch broker) or set "
        "CRISISWATCH_BROKER_URL"
    ]


def test_help_lists_our_commands_and_not_their_base(tmp_path: Path) -> None:
    code, lines = crisiswatch(tmp_path, "--help")
    assert code == 0
    commands = {line.split()[0] for line in lines if line.startswith("  ") and line.split()}
    ours = {"broker", "produce", "alerts", "demo", "schemas", "sentiment", "footprint", "replay"}
    ours |= {"evaluate", "bench", "simulate", "report", "stories", "forecast"}
    assert ours <= commands
    assert "onelineerrors" not in commands  # the commands' base class is not one
