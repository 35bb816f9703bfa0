"""`civicloop demo`: migrate, load the Yiwu demo, print the URL and accounts, then run the web
app, the HJ 212 ingestion listener, a small simulator feeding it and the periodic workers
(notifications, rollups, the environment sweep, the SLA sweep) until Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from civicloop.accounts.demo import DEMO_PASSWORD, DemoAccount
from civicloop.demo.loader import load_demo


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


# The simulator stops after this long; the demo stops it earlier, on Ctrl-C.
SIMULATOR_SECONDS = 365 * 24 * 3600


def listener_args(port: int, mqtt: bool) -> list[str]:
    """`civicloop …` arguments of the demo's ingestion listener."""
    args = ["ingest", "--host", "127.0.0.1", "--port", str(port)]
    return [*args, "--mqtt-host", "127.0.0.1"] if mqtt else args


def simulator_args(port: int) -> list[str]:
    """`civicloop …` arguments of the simulator: one minute record (2051) per device and
    minute, so that the rollup worker builds the hourly values the sweeps judge."""
    return [
        "hj212",
        "simulate",
        "--demo",
        "--minute-data",
        "--port",
        str(port),
        "--rate",
        "1/60",
        "--duration",
        str(SIMULATOR_SECONDS),
        "--no-progress",
    ]


def worker_args() -> list[list[str]]:
    """The periodic workers a deployment runs (docs/architecture.md), at demo intervals."""
    return [
        # The outbox: with CASE_EVENT_DELIVERY=worker (as in production, and `make demo`) it
        # delivers every case event's notifications.
        ["notify", "--loop", "--batch", "50"],
        ["rollup_readings", "--loop", "--interval", "120"],
        ["env_sweep", "--loop", "--interval", "300"],
        ["sla_sweep", "--loop", "--interval", "60"],
        # The KPI rollups of settled cases (cases.kpi_rollups).
        ["kpi_rollup", "--loop", "--interval", "300"],
    ]


class Command(BaseCommand):
    help = "迁移数据库、载入义乌演示数据，启动网站、数据接入服务和模拟设备（演示用）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--ingest-port", type=int, default=9212, help="HJ 212 TCP port")
        parser.add_argument("--cases", type=int, default=500, help="演示案件数量")
        parser.add_argument("--no-serve", action="store_true", help="只载入数据，不启动服务")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("数据库已迁移 · database migrated")
        summary = load_demo(cases=options["cases"], progress=True)
        self.stdout.write(
            f"区域 {sum(summary.regions.values())} · 分类 {summary.categories} · "
            f"组织 {summary.organisations} · 新建案件 {summary.cases_created}"
        )
        env = summary.environment
        self.stdout.write(
            f"企业 {env.enterprises} · 排放口 {env.outlets} · 监测点位 {env.points} · "
            f"新增监测数据 {env.readings} · 新告警 {env.alerts_created}"
        )
        url = f"http://{options['host']}:{options['port']}"
        self._print_accounts(summary.accounts, url, options["ingest_port"])
        if not options["no_serve"]:
            self._serve(options)

    def _serve(self, options: dict[str, Any]) -> None:
        children = self._start_workers(options["ingest_port"])
        try:
            call_command("runserver", f"{options['host']}:{options['port']}", use_reloader=False)
        finally:
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

    def _start_workers(self, port: int) -> list[subprocess.Popen[bytes]]:
        civicloop = [sys.executable, "-m", "civicloop"]
        commands = [
            listener_args(port, _port_open("127.0.0.1", 1883)),
            simulator_args(port),
            *worker_args(),
        ]
        # Stopped in reverse: the simulator and workers before the listener.
        return [subprocess.Popen([*civicloop, *args]) for args in commands][::-1]

    def _print_accounts(self, accounts: list[DemoAccount], url: str, ingest_port: int) -> None:
        out = self.stdout
        out.write("")
        out.write(self.style.SUCCESS(f"civicloop 演示已就绪 · demo ready: {url}"))
        out.write(f"  管理后台 admin: {url}/admin/   接口文档 API docs: {url}/api/v1/docs")
        out.write(f"  HJ 212 数据接入 ingestion: 127.0.0.1:{ingest_port} (TCP)")
        out.write(
            f"  演示账号（密码均为 {DEMO_PASSWORD}）· demo accounts (password {DEMO_PASSWORD}):"
        )
        for account in accounts:
            out.write(
                f"    {account.mobile}  {account.name:<4}  {account.role.label:<8} {account.where}"
            )
        out.write("")
