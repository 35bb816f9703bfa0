"""Ingestion benchmarks against PostgreSQL: `python -m bench.bench_ingest [--quick]`.

1. End to end: N virtual devices upload real-time data as fast as they are answered, over
   loopback TCP, to a `civicloop ingest` process; readings per second durably stored *and*
   acknowledged (a device sends its next frame only after the 9014). In the same run the same
   rows are deleted and COPYed back into `monitoring_reading` in one transaction: the ratio
   of the two rates is the figure of merit (target ≥ 60 %).
2. Connections: 20,000 devices, one upload every 30 s each, p99 acknowledgement latency
   (target < 200 ms). The bench raises RLIMIT_NOFILE to the hard limit; when one process
   cannot hold every socket (hard limit too low), the listener runs as several processes
   on one port (SO_REUSEPORT) and the result says so.

Uses its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
civicloop_bench), created and migrated with `civicloop migrate`. Everything talks to the
database through subprocesses or psycopg, so `run()` works in any process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from civicloop.ingest.loop import long_lived_process
from civicloop.ingest.loop import run as run_on_loop
from civicloop.ingest.simulator import (
    DeviceBehaviour,
    latency_summary,
    make_specs,
    simulate,
)

ROOT = Path(__file__).resolve().parents[1]
CIVICLOOP = ROOT / ".venv" / "bin" / "civicloop"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/civicloop_bench"
READING_COLUMNS = (
    "point_id, kind, code, data_time, rtd, avg, min, max, cou, zs_rtd, zs_avg, zs_min, zs_max, "
    "flag, eflag, sample_time, source, received_at"
)
FD_RESERVE = 64  # descriptors a process needs besides its sockets
ACK = "civicloop_ingest_ack_seconds"
COMMIT = "civicloop_ingest_commit_seconds"
SIMULATOR_PROCESSES = 2  # one per core: one Python process cannot drive 20,000 devices


def _civicloop(url: str, *args: str, timeout: float = 600) -> None:
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    subprocess.run([str(CIVICLOOP), *args], env=env, check=True, timeout=timeout)


def prepare_database(url: str) -> None:
    """Create the bench database if needed and migrate it."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    admin_url = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    _civicloop(url, "migrate", "-v0")


def reset_points(url: str, prefix: str, count: int) -> list[int]:
    """Remove what an earlier run left for `prefix`, register `count` fresh devices."""
    with psycopg.connect(url) as conn:
        ids = _point_ids(conn, prefix)
        for table in ("monitoring_reading", "monitoring_rawframe"):
            conn.execute(f"DELETE FROM {table} WHERE point_id = ANY(%s)", [ids])
        conn.execute("DELETE FROM monitoring_rawframe WHERE mn LIKE %s", [prefix + "%"])
        conn.execute("DELETE FROM monitoring_monitoringpoint WHERE id = ANY(%s)", [ids])
    # Editions are set as if the devices had been seen before: steady state, not first contact.
    code = (
        "from civicloop.ingest.demo import register_points; "
        "from civicloop.ingest.simulator import make_specs; "
        "from civicloop.monitoring.models import MonitoringPoint; "
        f"specs = make_specs({count}, prefix={prefix!r}); register_points(specs); "
        "[MonitoringPoint.objects.filter(mn__in=[s.mn for s in specs if s.edition == e])"
        ".update(protocol_edition=e) for e in ('2005', '2017')]"
    )
    _civicloop(url, "shell", "-v0", "-c", code)
    with psycopg.connect(url) as conn:
        return _point_ids(conn, prefix)


def _point_ids(conn: psycopg.Connection[Any], prefix: str) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM monitoring_monitoringpoint WHERE mn LIKE %s", [prefix + "%"]
    ).fetchall()
    return [row[0] for row in rows]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class ListenerRun:
    """What the listener processes reported: their ack histograms and CPU seconds."""

    metrics: list[str] = field(default_factory=list)  # one Prometheus scrape per process
    cpu_seconds: list[float] = field(default_factory=list)  # from start to exit, each process
    pids: list[int] = field(default_factory=list)

    def cpu_now(self) -> float:
        """CPU seconds the listener processes have used so far (from /proc; nan without it):
        read before and after a measurement, it leaves out their start-up."""
        return sum(process_cpu_seconds(pid) for pid in self.pids)


@contextlib.contextmanager
def listeners(url: str, port: int, processes: int, *args: str) -> Iterator[ListenerRun]:
    """`processes` × `civicloop ingest` on one port (SO_REUSEPORT when more than one)."""
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    command = [
        str(CIVICLOOP), "ingest", "--host", "127.0.0.1", "--port", str(port),
        "--no-backfill", *args,
    ]  # fmt: skip
    if processes > 1:
        command.append("--reuse-port")
    metrics_ports = [free_port() for _ in range(processes)]
    started = [
        subprocess.Popen(
            [*command, "--metrics-port", str(metrics_port)], env=env, stdout=subprocess.DEVNULL
        )
        for metrics_port in metrics_ports
    ]
    run = ListenerRun(pids=[process.pid for process in started])
    try:
        _wait_for_port(port)
        for metrics_port in metrics_ports:
            _wait_for_port(metrics_port)
        time.sleep(1.0 if processes > 1 else 0.0)  # let every process bind
        yield run
        for metrics_port in metrics_ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as response:
                run.metrics.append(response.read().decode())
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            run.cpu_seconds.append(_reap(process, 120))


def _reap(process: subprocess.Popen[bytes], timeout: float) -> float:
    """Wait for a child; return the CPU seconds (user + system) it used."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, _status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = 0
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.05)
    process.kill()
    _pid, _status, usage = os.wait4(process.pid, 0)
    process.returncode = -9
    return usage.ru_utime + usage.ru_stime


def histogram_quantile(scrapes: list[str], name: str, quantile: float) -> float:
    """The bucket bound below which `quantile` of the observations fall (summed scrapes)."""
    buckets: dict[float, float] = {}
    for text in scrapes:
        for line in text.splitlines():
            if line.startswith(f"{name}_bucket{{le="):
                label = line.split('"')[1]
                key = math.inf if label == "+Inf" else float(label)
                buckets[key] = buckets.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    total = buckets[max(buckets)] if buckets else 0.0
    if not total:
        return math.nan
    for bound in sorted(buckets):
        if buckets[bound] >= quantile * total:
            return bound
    return math.inf


def metric_total(scrapes: list[str], name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for text in scrapes
        for line in text.splitlines()
        if line.startswith(name + " ") or line.startswith(name + "{")
    )


def _wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"ingest did not start on port {port}")


# ---- 1. end to end vs COPY -----------------------------------------------------------------


def end_to_end(url: str, *, devices: int, uploads: int) -> dict[str, float]:
    prefix = "YWBENCHE2E"
    ids = reset_points(url, prefix, devices)
    specs = make_specs(devices, prefix=prefix)
    port = free_port()
    # As fast as answers come: each device waits for its 9014 before the next upload.
    behaviour = DeviceBehaviour(interval=0.0, ack_timeout=30.0)
    # The simulator runs in this process, on the loop and GC settings of `civicloop hj212
    # simulate` (uvloop when installed). CPU is read around the simulation only: the
    # listener's start-up (Django, the point directory) costs about 3 s of its own.
    with listeners(url, port, 1, "--batch-delay", "0.005") as run, long_lived_process():
        simulator_cpu, postgres_cpu = time.process_time(), postgres_cpu_seconds()
        listener_cpu = run.cpu_now()
        report = run_on_loop(
            simulate(specs, host="127.0.0.1", port=port, behaviour=behaviour, count=uploads)
        )
        listener_cpu = run.cpu_now() - listener_cpu
        simulator_cpu = time.process_time() - simulator_cpu
        postgres_cpu = postgres_cpu_seconds() - postgres_cpu
    factors = {spec.mn: len(spec.factors) for spec in specs}
    acked_readings = sum(
        factors[spec.mn] * stats.acked
        for spec, stats in zip(report.specs, report.stats, strict=True)
    )
    stored, copy_seconds = _copy_back(url, ids)
    if stored != acked_readings:
        raise RuntimeError(f"{acked_readings} readings acknowledged but {stored} stored")
    e2e_rate = acked_readings / report.elapsed
    copy_rate = stored / copy_seconds
    return {
        "e2e_devices": devices,
        "e2e_frames": report.total("acked"),
        "e2e_readings": acked_readings,
        "e2e_seconds": round(report.elapsed, 3),
        "e2e_readings_per_s": round(e2e_rate),
        "e2e_frames_per_s": round(report.total("acked") / report.elapsed),
        "copy_seconds": round(copy_seconds, 3),
        "copy_readings_per_s": round(copy_rate),
        "e2e_to_copy_ratio": round(e2e_rate / copy_rate, 3),
        "e2e_ack_p99_ms": latency_summary(report.latencies)["p99"] or math.nan,
        # CPU seconds: the listener process from start to exit (as earlier rounds printed it),
        # then, during the simulation only, the listener, the simulator (this process) and
        # every PostgreSQL process of this machine (nan when /proc is not readable); the
        # three share the machine's two cores.
        "e2e_listener_cpu_s": round(sum(run.cpu_seconds), 2),
        "e2e_run_listener_cpu_s": round(listener_cpu, 2),
        "e2e_simulator_cpu_s": round(simulator_cpu, 2),
        "e2e_postgres_cpu_s": round(postgres_cpu, 2),
        "e2e_cores_used": round((listener_cpu + simulator_cpu + postgres_cpu) / report.elapsed, 2),
    }


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far, from /proc; nan if unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return math.nan
    values = stat.rsplit(")")[-1].split()
    return (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """User + system CPU seconds of the PostgreSQL server on this machine so far (its live
    processes and those that exited), from /proc; nan when it cannot be read."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = Path(entry.path, "stat").read_text()
                name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat.rsplit(")")[-1]
                if name.startswith("postgres"):
                    values = fields.split()
                    # utime, stime, and cutime, cstime: the postmaster's children that
                    # exited (connections closed meanwhile) are counted there.
                    total += sum(int(value) for value in values[11:15])
    except OSError:
        return math.nan
    return total / ticks if total else math.nan


def _copy_back(url: str, point_ids: list[int]) -> tuple[int, float]:
    """Read the run's readings, delete them, COPY them back in one transaction (timed)."""
    with psycopg.connect(url) as conn:
        select = f"SELECT {READING_COLUMNS} FROM monitoring_reading WHERE point_id = ANY(%s)"
        rows = conn.execute(select, [point_ids]).fetchall()
        conn.execute("DELETE FROM monitoring_reading WHERE point_id = ANY(%s)", [point_ids])
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            copy_sql = f"COPY monitoring_reading ({READING_COLUMNS}) FROM STDIN"
            with cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        return len(rows), time.perf_counter() - started


# ---- 2. many connections -------------------------------------------------------------------


def connections(
    url: str, *, devices: int, interval: float, duration: float, processes: int | None = None
) -> dict[str, float | int | str]:
    """`devices` devices on `processes` listener processes (default: as few as the limit allows).

    The devices are simulated by two `civicloop hj212 simulate` processes (more if the
    open-files limit requires). Device-side latency (write → 9014,
    measured by the simulators) and listener-side latency (frame complete → answer written,
    from the listeners' `ack_seconds` histogram, so a bucket bound) are both reported, with
    the CPU seconds of each side: on this 2-core box the simulators compete with the
    listeners, and `sent` below `expected` means the simulators did not keep up.
    """
    limit = raise_file_limit()
    per_process = max(1, limit - FD_RESERVE)
    needed = math.ceil(devices / per_process)
    processes = max(processes or needed, needed)
    simulators = max(SIMULATOR_PROCESSES, processes)
    prefixes = [f"YWBENCHC{index}" for index in range(simulators)]
    shares = [devices // simulators + (i < devices % simulators) for i in range(simulators)]
    for prefix, share in zip(prefixes, shares, strict=True):
        reset_points(url, prefix, share)
    port = free_port()
    with (
        listeners(url, port, processes) as run,
        tempfile.TemporaryDirectory() as directory,
    ):
        reports = _simulators(port, prefixes, shares, interval, duration, Path(directory))
    latencies = [value for report in reports for value in report.pop("latencies_s")]
    sent = sum(int(report["sent"]) for report in reports)
    acked = sum(int(report["acked"]) for report in reports)
    summary = latency_summary(latencies)
    key = f"conn{devices}x{processes}"
    return {
        f"{key}_devices": devices,
        f"{key}_listener_processes": processes,
        f"{key}_simulator_processes": len(reports),
        f"{key}_interval_s": interval,
        f"{key}_duration_s": duration,
        f"{key}_nofile_limit": limit,
        f"{key}_expected": round(devices * duration / interval),
        f"{key}_sent": sent,
        f"{key}_acked": acked,
        f"{key}_ack_p50_ms": summary["p50"] or math.nan,
        f"{key}_ack_p90_ms": summary["p90"] or math.nan,
        f"{key}_ack_p99_ms": summary["p99"] or math.nan,
        f"{key}_ack_max_ms": summary["max"] or math.nan,
        f"{key}_listener_acks": round(metric_total(run.metrics, f"{ACK}_count")),
        f"{key}_listener_ack_p50_le_ms": histogram_quantile(run.metrics, ACK, 0.50) * 1000,
        f"{key}_listener_ack_p99_le_ms": histogram_quantile(run.metrics, ACK, 0.99) * 1000,
        # The writer's transactions: a slow database shows here, a busy listener does not.
        f"{key}_commit_p99_le_ms": histogram_quantile(run.metrics, COMMIT, 0.99) * 1000,
        f"{key}_listener_cpu_s": round(sum(run.cpu_seconds), 1),
        f"{key}_simulator_cpu_s": round(sum(float(r["cpu_s"]) for r in reports), 1),
    }


def _simulators(
    port: int,
    prefixes: list[str],
    shares: list[int],
    interval: float,
    duration: float,
    directory: Path,
) -> list[dict[str, Any]]:
    """One `civicloop hj212 simulate` process per share of the devices."""
    started = []
    for prefix, share in zip(prefixes, shares, strict=True):
        report = directory / f"{prefix}.json"
        command = [
            str(CIVICLOOP), "hj212", "simulate", "--devices", str(share), "--prefix", prefix,
            "--rate", f"1/{interval}", "--duration", str(duration), "--port", str(port),
            "--ack-timeout", "10", "--report", str(report), "--json", "--no-progress",
        ]  # fmt: skip
        started.append((subprocess.Popen(command, stdout=subprocess.DEVNULL), report))
    reports = []
    for process, report in started:
        cpu = _reap(process, duration + 600)
        reports.append(json.loads(report.read_text()) | {"cpu_s": cpu})
    return reports


# ---- entry points --------------------------------------------------------------------------


def run(
    quick: bool = False, e2e_devices: tuple[int, ...] = (200,), e2e_only: bool = False
) -> dict[str, float | int | str]:
    """Both benchmarks. Connection keys carry the run: `conn{devices}x{listener processes}_…`;
    end-to-end keys too (`e2e{devices}_…`) when several device counts are asked for."""
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    prepare_database(url)
    # A shared box: say how busy it was, the ratios are the comparable figures.
    result: dict[str, float | int | str] = {"load_avg_1m_start": os.getloadavg()[0]}
    if quick:
        result |= end_to_end(url, devices=50, uploads=20)
        result |= connections(url, devices=500, interval=5.0, duration=12.0)
    else:
        for devices in e2e_devices:
            # About 8,000 uploads or more at any count, each device at least 10.
            e2e = end_to_end(url, devices=devices, uploads=max(10, 8000 // devices))
            if len(e2e_devices) > 1:
                e2e = {f"e2e{devices}_{key.removeprefix('e2e_')}": v for key, v in e2e.items()}
            result |= e2e
        if e2e_only:
            result["load_avg_1m_end"] = os.getloadavg()[0]
            return result
        # The most one listener process can hold under the open-files limit, then the
        # target's 20,000 devices, which need two listener processes here.
        one_process = min(20_000, raise_file_limit() - FD_RESERVE)
        result |= connections(url, devices=one_process, interval=30.0, duration=75.0)
        if one_process < 20_000:
            result |= connections(url, devices=20_000, interval=30.0, duration=75.0)
    result["load_avg_1m_end"] = os.getloadavg()[0]
    return result


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"device counts must be ≥ 1: {text!r}")
    return counts


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.bench_ingest [--quick]`, or `python -m bench ingest [--quick]`."""
    global CIVICLOOP
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--civicloop",
        type=Path,
        default=ROOT / ".venv" / "bin" / "civicloop",
        help="the `civicloop` executable of the listener and simulator processes (another "
        "checkout's, to compare; default: this tree's .venv/bin/civicloop)",
    )
    parser.add_argument(
        "--e2e-devices",
        type=_counts,
        default=(200,),
        help="device counts of the end-to-end step, comma-separated (default 200); each device "
        "sends its next upload when the previous one is acknowledged, so the count is the "
        "number of uploads in flight",
    )
    parser.add_argument(
        "--e2e-only", action="store_true", help="the end-to-end step alone, no connection runs"
    )
    arguments = parser.parse_args(argv)
    quick = arguments.quick
    CIVICLOOP = arguments.civicloop
    result = run(quick=quick, e2e_devices=arguments.e2e_devices, e2e_only=arguments.e2e_only)
    print(f"HJ 212 ingestion into PostgreSQL{' (quick)' if quick else ''}", file=sys.stderr)
    for key, value in result.items():
        print(f"  {key:<26} {value}")


if __name__ == "__main__":
    main()
