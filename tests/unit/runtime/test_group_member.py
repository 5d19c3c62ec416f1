from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.runtime.group_member import dead_members, record_member
from pipeline.runtime.settings import Settings


def test_only_members_of_processes_that_are_gone_count_as_dead(tmp_path: Path) -> None:
    settings = Settings.from_env({}, state_dir=tmp_path, app_id="grp")
    record_member(settings, "alive-member")  # this process
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead_file = record_member(settings, "dead-member", pid=int(gone.stdout))
    other_group = settings.replace(app_id="other")
    record_member(other_group, "other-member", pid=int(gone.stdout) + 1_000_000)
    assert dead_members(settings) == [(dead_file, "dead-member")]


def test_a_reused_pid_is_not_the_recorded_process(tmp_path: Path) -> None:
    settings = Settings.from_env({}, state_dir=tmp_path, app_id="grp")
    path = record_member(settings, "old-member")
    record = path.read_text().replace('"started":"', '"started":"1')  # another start time
    path.write_text(record)
    assert dead_members(settings) == [(path, "old-member")]
    assert os.getpid() == int(path.stem)
