"""Case creation against the bare view as throughput on a real server: `python -m bench cases
--http` (after the in-process measurements) or `--only http`.

Starts gunicorn (sync workers, the production entry point `civicloop.wsgi` with
`bench.http_settings`: the site's settings plus the bench's urlconf) on the bench database and
drives it with wrk from a Lua script (`wrk_post.lua`): the same authenticated form POST to
`/bench/bare` and to `/api/v1/cases`, with the same connections and duration, alternated
bare/create for a number of rounds. The session cookie comes from `force_login` in this process
and the CSRF cookie and header from Django's own `get_token`: the same session and CSRF checks
run on both sides. A run in which any response has another status than 200 (bare) or 201
(create), or wrk saw a socket error, is reported as invalid and left out of the figures. The
CPU time of the gunicorn processes, of PostgreSQL (the backends of the bench database and the
server's own processes: WAL writer, checkpointer, …) and of wrk during each run is read from
/proc, so a reader can see whether the load generator was a bottleneck.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlparse

LUA = Path(__file__).with_name("wrk_post.lua")
ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SIDES = [("bare", "/bench/bare", 200), ("create", "/api/v1/cases", 201)]  # side, path, status


# ---------------------------------------------------------------- pure helpers


def parse_wrk(output: str) -> dict[str, str]:
    """The `bench.KEY=VALUE` lines the Lua script's done() writes, by key."""
    values = {}
    for line in output.splitlines():
        if line.startswith("bench.") and "=" in line:
            key, _, value = line[len("bench.") :].partition("=")
            values[key] = value.strip()
    return values


def stat_fields(stat: str) -> tuple[int, int]:
    """(parent pid, CPU ticks user + system) from the text of /proc/PID/stat."""
    rest = stat[stat.rindex(")") + 2 :].split()  # fields 3… (state, ppid, …)
    return int(rest[1]), int(rest[11]) + int(rest[12])


# ---------------------------------------------------------------- processes


@dataclass
class Proc:
    ppid: int
    ticks: int
    cmdline: str


def processes() -> dict[int, Proc]:
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue  # gone meanwhile
        ppid, ticks = stat_fields(stat)
        found[int(entry.name)] = Proc(ppid, ticks, cmdline)
    return found


@dataclass
class CpuGroups:
    """CPU seconds of the server's workers and of PostgreSQL between two snapshots."""

    gunicorn: int
    postmaster: int | None
    database: str
    before: dict[int, Proc] = field(default_factory=dict)

    def start(self) -> None:
        self.before = processes()

    def _group(self, procs: dict[int, Proc]) -> dict[str, set[int]]:
        server = {
            pid for pid, p in procs.items() if pid == self.gunicorn or p.ppid == self.gunicorn
        }
        pg: set[int] = set()
        if self.postmaster is not None:
            for pid, p in procs.items():
                if pid == self.postmaster:
                    pg.add(pid)
                elif p.ppid == self.postmaster:
                    # a backend says `postgres: USER DATABASE HOST(PORT) …`; the server's own
                    # processes (WAL writer, checkpointer, …) name no client host
                    is_backend = "(" in p.cmdline
                    if not is_backend or f" {self.database} " in p.cmdline:
                        pg.add(pid)
        return {"gunicorn": server, "postgres": pg}

    def stop(self) -> dict[str, float | None]:
        after = processes()
        groups = self._group(after)
        seconds: dict[str, float | None] = {}
        for name, pids in groups.items():
            ticks = sum(
                after[p].ticks - (self.before[p].ticks if p in self.before else 0) for p in pids
            )
            seconds[name] = ticks / CLOCK_TICKS
        if self.postmaster is None:
            seconds["postgres"] = None
        return seconds


# ---------------------------------------------------------------- the run


@dataclass
class Run:
    side: str  # "bare" or "create"
    workers: int
    per_s: float
    requests: int
    unexpected: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    cpu: dict[str, float | None]
    loadavg: float
    created: int | None = None  # cases counted in the database (create runs)
    first_unexpected: str = ""

    @property
    def valid(self) -> bool:
        return self.unexpected == 0 and self.socket_errors == 0 and self.requests > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_serving(port: int, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /bench/bare HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1."):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within a minute")


def _postmaster() -> int | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        ppid, _ticks = stat_fields(Path(f"/proc/{backend}/stat").read_text())
    except OSError:
        return None  # PostgreSQL on another host or out of sight
    return ppid


def _auth() -> tuple[str, str, str]:
    """(Cookie header, CSRF header name, CSRF token) of the demo resident's session."""
    from django.conf import settings
    from django.http import HttpRequest
    from django.middleware.csrf import get_token

    from bench.cases_bench import _client
    from civicloop.accounts.demo import NAMED

    client = _client(next(m for m, _n, role in NAMED if role == "resident"))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    request = HttpRequest()
    token = get_token(request)  # masked; the cookie holds the secret
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}="
    cookie += request.META["CSRF_COOKIE"]
    header = settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-")
    return cookie, header, token


def _body() -> str:
    from bench.cases_bench import report_form

    return urlencode(report_form())


def _wrk(
    url: str, expected: int, args: tuple[str, str, str, str], connections: int, seconds: int
) -> tuple[dict[str, str], float]:
    """wrk's figures and its CPU seconds (this process's reaped children: wrk alone)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [
        "wrk",
        f"--threads={min(connections, 2)}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        "--timeout=10s",
        f"--script={LUA}",
        url,
        "--",
        str(expected),
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return parse_wrk(done.stdout), cpu


def _cases() -> int:
    from civicloop.cases.models import Case

    return Case.objects.count()


def _settled_cases(previous: int | None = None) -> int:
    """The number of cases once requests wrk left in flight have been committed."""
    count = _cases()
    while count != previous:
        previous = count
        time.sleep(0.5)
        count = _cases()
    return count


def measure_http(
    url: str,
    workers: list[int],
    connections: int = 8,
    seconds: int = 20,
    rounds: int = 2,
) -> list[Run]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make system` installs it (Debian package wrk)")
    from django.conf import settings

    cookie, header, token = _auth()
    body = _body()
    database = urlparse(url).path.lstrip("/")
    postmaster = _postmaster()
    runs: list[Run] = []
    for count in workers:
        port = _free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.http_settings",
            "DATABASE_URL": url,
            "CASE_EVENT_DELIVERY": "worker",
            "DEBUG": "False",
            "SECRET_KEY": settings.SECRET_KEY,
            "DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "600"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [
            str(gunicorn),
            "civicloop.wsgi",
            "--worker-class=sync",
            f"--workers={count}",
            f"--bind=127.0.0.1:{port}",
            "--log-level=warning",
        ]
        server = subprocess.Popen(command, env=env, cwd=ROOT)
        try:
            _wait_until_serving(port, server)
            cpu = CpuGroups(server.pid, postmaster, database)
            for _side, path, expected in SIDES:
                # one short warm-up per side: imports, first queries, persistent connections
                _wrk(
                    f"http://127.0.0.1:{port}{path}",
                    expected,
                    (body, cookie, header, token),
                    connections,
                    2,
                )
            for _round in range(rounds):
                for side, path, expected in SIDES:
                    cases_before = _settled_cases() if side == "create" else None
                    loadavg = os.getloadavg()[0]
                    cpu.start()
                    figures, wrk_cpu = _wrk(
                        f"http://127.0.0.1:{port}{path}",
                        expected,
                        (body, cookie, header, token),
                        connections,
                        seconds,
                    )
                    used = {**cpu.stop(), "wrk": wrk_cpu}
                    created = None
                    if cases_before is not None:
                        created = _settled_cases() - cases_before
                    duration = int(figures["duration_us"]) / 1e6
                    runs.append(
                        Run(
                            side=side,
                            workers=count,
                            per_s=int(figures["expected"]) / duration,
                            requests=int(figures["requests"]),
                            unexpected=int(figures["unexpected"]),
                            socket_errors=int(figures["socket_errors"]),
                            p50_ms=int(figures["p50_us"]) / 1000,
                            p99_ms=int(figures["p99_us"]) / 1000,
                            cpu=used,
                            loadavg=loadavg,
                            created=created,
                            first_unexpected=figures.get("first_unexpected", ""),
                        )
                    )
                    report_run(runs[-1], seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
    report_http(runs)
    return runs


# ---------------------------------------------------------------- output


def _cpu(cpu: dict[str, float | None]) -> str:
    parts = [f"{k} {v:.1f} s" if v is not None else f"{k} n/a" for k, v in cpu.items()]
    return "CPU " + ", ".join(parts)


def report_run(run: Run, seconds: int) -> None:
    label = f"{run.side} (HTTP, {run.workers} workers)"
    line = (
        f"  {label:<30} {run.per_s:8.1f} req/s  p50 {run.p50_ms:.1f} ms  p99 {run.p99_ms:.1f} ms"
        f"  ({run.requests:,} requests in {seconds} s; {_cpu(run.cpu)}; load {run.loadavg:.2f})"
    )
    gunicorn = run.cpu.get("gunicorn")
    if gunicorn is not None and run.requests:
        line += f"; server CPU {gunicorn * 1000 / run.requests:.1f} ms/request"
    if run.created is not None:
        line += f"; {run.created:,} cases created"
    if not run.valid:
        line += (
            f"  INVALID: {run.unexpected} unexpected statuses, {run.socket_errors} socket errors"
            f" (first: {run.first_unexpected or '—'})"
        )
    print(line, flush=True)


def report_http(runs: list[Run]) -> None:
    for count in sorted({r.workers for r in runs}):
        mine = [r for r in runs if r.workers == count]
        invalid = [r for r in mine if not r.valid]
        bare = [r.per_s for r in mine if r.side == "bare" and r.valid]
        create = [r.per_s for r in mine if r.side == "create" and r.valid]
        if invalid or not bare or not create:
            print(f"HTTP, {count} workers: {len(invalid)} invalid run(s); no ratio")
            continue
        b, c = statistics.mean(bare), statistics.mean(create)
        p = {
            side: (
                statistics.mean(r.p50_ms for r in mine if r.side == side),
                statistics.mean(r.p99_ms for r in mine if r.side == side),
            )
            for side in ("bare", "create")
        }
        print(
            f"bare (HTTP, {count} workers)          {b:8.1f} req/s   "
            f"p50 {p['bare'][0]:.1f} ms, p99 {p['bare'][1]:.1f} ms"
        )
        print(
            f"create case (HTTP, {count} workers)   {c:8.1f} req/s   {c / b:6.1%} of bare "
            f"(target ≥ 50 %); p50 {p['create'][0]:.1f} ms, p99 {p['create'][1]:.1f} ms"
        )
