"""The service dies or loses its database mid-stream: nothing acknowledged may be lost.

The tests run `civicloop ingest` as a real process and drive it with virtual devices that
retransmit unanswered frames (HJ 212 §7.5), then check every acknowledged frame against the
database. Slow: they start processes (and, for the restart test, a PostgreSQL cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from civicloop.ingest.demo import register_points
from civicloop.ingest.simulator import DeviceBehaviour, DeviceSpec, VirtualDevice, make_specs
from civicloop.ingest.tests.conftest import (
    CIVICLOOP,
    T0,
    database_url,
    free_port,
    subprocess_env,
    wait_for_port,
)

pytestmark = pytest.mark.slow
PG_BIN = Path("/usr/lib/postgresql/15/bin")
BEHAVIOUR = DeviceBehaviour(interval=0.03, ack_timeout=1.0, retries=60, reconnect_delay=0.05)


def start_ingest(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        str(CIVICLOOP), "ingest", "--host", "127.0.0.1", "--port", str(port),
        "--metrics-port", "-1", "--no-backfill", "--batch-delay", "0.005",
    ]  # fmt: skip
    with log.open("ab") as output:
        return subprocess.Popen(
            command, env=subprocess_env(url), stdout=output, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def devices_for(specs: list[DeviceSpec], port: int) -> list[VirtualDevice]:
    return [
        VirtualDevice(spec, host="127.0.0.1", port=port, behaviour=BEHAVIOUR, start_time=T0)
        for spec in specs
    ]


async def acked(devices: list[VirtualDevice], at_least: int) -> int:
    while (total := sum(device.stats.acked for device in devices)) < at_least:
        await asyncio.sleep(0.01)
    return total


def stored_counts(cursor: psycopg.Cursor, prefix: str) -> dict[tuple[str, object], int]:
    """(MN, data_time) → readings stored; a key stored twice would count double."""
    cursor.execute(
        "SELECT p.mn, r.data_time, count(*) FROM monitoring_reading r "
        "JOIN monitoring_monitoringpoint p ON p.id = r.point_id "
        "WHERE r.kind = 2011 AND p.mn LIKE %s GROUP BY 1, 2",
        [prefix + "%"],
    )
    return {(mn, data_time): count for mn, data_time, count in cursor.fetchall()}


def assert_every_ack_stored(devices: list[VirtualDevice], stored: dict, uploads: int) -> None:
    for device in devices:
        assert device.stats.acked == uploads, "devices retransmit until answered"
        for _cn, data_time in device.stats.acked_times:
            assert stored.get((device.spec.mn, data_time)) == len(device.spec.factors)
    # Nothing is duplicated: per record exactly one row per factor, and no record twice.
    assert set(stored.values()) <= {len(spec.factors) for spec in (d.spec for d in devices)}


def register_script(count: int, prefix: str) -> str:
    """`civicloop shell -c` code registering the points of `make_specs(count, prefix)`."""
    return (
        "from civicloop.ingest.demo import register_points; "
        "from civicloop.ingest.simulator import make_specs; "
        f"register_points(make_specs({count}, prefix={prefix!r}))"
    )


def kill_mid_stream(
    url: str, specs: list[DeviceSpec], log: Path, uploads: int
) -> tuple[list[VirtualDevice], int]:
    """Devices send `uploads` frames each; the listener is SIGKILLed mid-stream and restarted.
    Returns the devices (their acknowledged frames) and how many were acknowledged at the kill."""
    port = free_port()
    first = start_ingest(url, port, log)
    second = None
    try:
        wait_for_port(port)

        async def scenario() -> tuple[list[VirtualDevice], int]:
            nonlocal second
            devices = devices_for(specs, port)
            runs = [asyncio.create_task(device.run(count=uploads)) for device in devices]
            await acked(devices, 150)
            first.kill()  # SIGKILL: no chance to flush anything
            killed_at = sum(device.stats.acked for device in devices)
            await asyncio.to_thread(first.wait)
            second = start_ingest(url, port, log)
            await asyncio.gather(*runs)
            return devices, killed_at

        devices, killed_at = asyncio.run(scenario())
    finally:
        first.kill()
        stop(second)
    assert killed_at < uploads * len(specs), "the kill must hit the middle of the stream"
    assert sum(device.stats.reconnects for device in devices) >= len(specs)
    return devices, killed_at


@pytest.mark.postgres
def test_sigkill_mid_stream_loses_no_acknowledged_frame(transactional_db, tmp_path):
    specs = make_specs(6, prefix="YWKILL")
    register_points(specs)
    url = database_url(connection.settings_dict)
    devices, _killed_at = kill_mid_stream(url, specs, tmp_path / "ingest.log", uploads=120)
    with connection.cursor() as cursor:
        stored = stored_counts(cursor.cursor, "YWKILL")
    assert_every_ack_stored(devices, stored, 120)


def sqlite_stored_counts(path: Path, prefix: str) -> dict[tuple[str, object], int]:
    """`stored_counts` on a SQLite file (Django keeps UTC date-times there as naive text)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT p.mn, r.data_time, count(*) FROM monitoring_reading r "
            "JOIN monitoring_monitoringpoint p ON p.id = r.point_id "
            "WHERE r.kind = 2011 AND p.mn LIKE ? GROUP BY 1, 2",
            [prefix + "%"],
        ).fetchall()
    return {
        (mn, datetime.fromisoformat(data_time).replace(tzinfo=UTC)): count
        for mn, data_time, count in rows
    }


def test_sigkill_mid_stream_on_sqlite_loses_no_acknowledged_frame(tmp_path):
    """The same kill on SQLite. pytest's SQLite test database lives in this process's memory,
    so the listener processes share a file database of their own (WAL, as in production:
    a commit is durable against a killed process once COMMIT returns)."""
    database = tmp_path / "ingest.sqlite3"
    url = f"sqlite:///{database}"
    for command in (["migrate", "-v0"], ["shell", "-c", register_script(6, "YWKILL")]):
        subprocess.run([str(CIVICLOOP), *command], env=subprocess_env(url), check=True, timeout=300)
    specs = make_specs(6, prefix="YWKILL")
    devices, _killed_at = kill_mid_stream(url, specs, tmp_path / "ingest.log", uploads=120)
    assert_every_ack_stored(devices, sqlite_stored_counts(database, "YWKILL"), 120)


# ---- a PostgreSQL cluster of our own, restarted under load ---------------------------------


@dataclass
class Cluster:
    base: Path
    port: int
    runner: list[str]

    @property
    def data(self) -> Path:
        return self.base / "data"

    def ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1"
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log")]
        subprocess.run(
            [*self.runner, *command, "-o", options, "-w", *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def restart(self, down_for: float) -> None:
        self.ctl("-m", "fast", "stop")
        time.sleep(down_for)
        self.ctl("start")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN}")
    runner: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="civicloop-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user for initdb")
        shutil.chown(base, "postgres", "postgres")
        runner = ["runuser", "-u", "postgres", "--"]
    cluster = Cluster(base, free_port(), runner)
    try:
        initdb = [str(PG_BIN / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres"]
        subprocess.run(
            [*runner, *initdb, "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        cluster.ctl("start")
        yield cluster
    finally:
        subprocess.run(
            [*runner, str(PG_BIN / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


def prepare_database(cluster: Cluster) -> str:
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as admin:
        admin.execute("CREATE DATABASE civicloop_restart")
    url = cluster.url("civicloop_restart")
    for command in (["migrate", "-v0"], ["shell", "-c", register_script(4, "YWPGRS")]):
        subprocess.run([str(CIVICLOOP), *command], env=subprocess_env(url), check=True, timeout=180)
    return url


def test_postgres_restart_while_devices_send(cluster, tmp_path):
    url, port, log = prepare_database(cluster), free_port(), tmp_path / "ingest.log"
    specs = make_specs(4, prefix="YWPGRS")
    uploads = 150
    ingest = start_ingest(url, port, log)
    try:
        wait_for_port(port)

        async def scenario() -> list[VirtualDevice]:
            devices = devices_for(specs, port)
            runs = [asyncio.create_task(device.run(count=uploads)) for device in devices]
            await acked(devices, 100)
            await asyncio.to_thread(cluster.restart, 1.5)
            await asyncio.gather(*runs)
            return devices

        devices = asyncio.run(scenario())
    finally:
        stop(ingest)
    assert "database unavailable" in log.read_text(), "the outage must have been noticed"
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        stored = stored_counts(cursor, "YWPGRS")
    assert_every_ack_stored(devices, stored, uploads)
