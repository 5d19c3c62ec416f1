"""Security of a real worker: the SASL password never reaches its log, SASL settings reach its
Kafka clients, and it listens on nothing but the metrics endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from pipeline.runtime.settings import Settings
from pipeline.runtime.worker_process import WorkerProcess
from pipeline.tools.produce import produce_raw

from .conftest import StartWorker
from .helpers import metric, post, wait_for

pytestmark = pytest.mark.integration

SECRET = "s3cret-Pa55word-that-must-never-be-logged"


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(host, port) of every TCP socket process ``pid`` listens on (IPv4 and IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            host_hex, port_hex = local.split(":")
            raw = bytes.fromhex(host_hex)
            # /proc shows the address as 32-bit words in host (little-endian) order.
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add((socket.inet_ntop(family, packed), int(port_hex, 16)))
    return found


async def test_worker_log_has_no_password_and_it_listens_on_loopback_only(
    settings: Settings, start_worker: StartWorker
) -> None:
    # PLAINTEXT on the test broker: the password is set (and passed to the child) but unused.
    worker = await start_worker(settings.replace(sasl_username="ops", sasl_password=SECRET))
    assert worker.process is not None
    assert listening_addresses(worker.process.pid) == {("127.0.0.1", settings.metrics_port)}
    await produce_raw(settings, [post(n) for n in range(5)] + [b"{bad"])
    await wait_for(lambda: metric(worker, "crisiswatch_posts_received_total") == 6, 30.0, "ingest")
    log = worker.log_file.read_text(errors="replace")
    assert "crisiswatch" in log and "ingest" in log  # the banner and the agents are logged
    assert SECRET not in log


async def test_sasl_settings_reach_the_worker_clients_and_the_password_stays_out(
    settings: Settings,
) -> None:
    # Tansu speaks no SASL: a worker configured for it must fail to connect, say why, and
    # not print the password on the way out.
    sasl = settings.replace(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="ops",
        sasl_password=SECRET,
    )
    worker = WorkerProcess(sasl, sasl.state_dir / "sasl-worker.log").start()
    try:
        deadline = time.monotonic() + 45.0
        while worker.running and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert not worker.running, "a worker that cannot authenticate should exit"
    finally:
        worker.stop()
    log = worker.log_file.read_text(errors="replace")
    assert "UnsupportedSaslMechanismError" in log  # it did try SASL
    assert "Unable to bootstrap" in log
    assert SECRET not in log
