"""A worker restarted after a crash removes its dead predecessor from the consumer group.

A worker killed with SIGKILL never sends LeaveGroup: the group keeps it as a member until the
broker expires its session. Apache Kafka expires it after ``session_timeout``, so a restarted
worker waits up to that long to be assigned anything. noida-db 0.2.3 never expires it (the
conformance check ``dead member evicted``): the dead member stays in the group, is even chosen as
its leader, the follower's SyncGroup waits for an assignment that never comes and the restarted
worker never joins (tests/integration/test_faults.py, the SIGKILL test, failed on it).

The fix at the client, for any broker: every worker records its group member id in the state
directory, one file per process id, each time it gets partitions. At start, before faust's
consumer joins, each file whose process is gone names a dead member of this group: the worker
sends LeaveGroup for it (any client may: a member is named by its id) and deletes the file.
On Kafka this turns the session-timeout wait into an immediate rejoin; on noida-db it is what
makes a rejoin happen at all. A worker that crashes and is never restarted still holds its
partitions on noida-db until someone starts a worker with the same state directory.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import orjson
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.group import LeaveGroupRequest

from pipeline.runtime.kafka import client_options
from pipeline.runtime.settings import Settings

log = logging.getLogger(__name__)


def members_dir(settings: Settings) -> Path:
    return settings.state_dir / "worker" / "group-members"


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot): tells a pid from a reused one."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def record_member(settings: Settings, member_id: str, pid: int | None = None) -> Path:
    """Write this process's current group member id (atomically: a crash mid-write leaves the
    previous file, never half of one)."""
    pid = os.getpid() if pid is None else pid
    directory = members_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{pid}.json"
    record = {
        "group": settings.app_id,
        "member_id": member_id,
        "pid": pid,
        "started": _start_time(pid),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(record))
    tmp.replace(path)
    return path


def dead_members(settings: Settings) -> list[tuple[Path, str]]:
    """(file, member id) of this group's recorded members whose process is gone."""
    found = []
    for path in sorted(members_dir(settings).glob("*.json")):
        try:
            record = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        if record.get("group") != settings.app_id or not record.get("member_id"):
            continue
        pid = int(record.get("pid", 0))
        alive = pid > 0 and _start_time(pid) is not None
        if alive and record.get("started") == _start_time(pid):
            continue
        found.append((path, str(record["member_id"])))
    return found


async def evict_dead_members(settings: Settings) -> list[str]:
    """Send LeaveGroup for every dead recorded member of this group; return their ids."""
    dead = dead_members(settings)
    if not dead:
        return []
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    evicted = []
    try:
        node = await admin.find_coordinator(settings.app_id)
        for path, member_id in dead:
            # UNKNOWN_MEMBER_ID means the broker already dropped it: nothing left to do either.
            response = await admin._client.send(node, LeaveGroupRequest(settings.app_id, member_id))
            log.info(
                "removed the dead group member %s of a previous worker (error code %s)",
                member_id,
                response.error_code,
            )
            evicted.append(member_id)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    finally:
        await admin.close()
    return evicted
