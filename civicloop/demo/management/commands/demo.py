"""`civicloop demo`: migrate, load the Yiwu demo, print the URL and accounts, then run the web
app, the notification worker (`civicloop notify --loop`), the HJ 212 ingestion listener and a
small simulator feeding it until Ctrl-C."""

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
        url = f"http://{options['host']}:{options['port']}"
        self._print_accounts(summary.accounts, url, options["ingest_port"])
        if not options["no_serve"]:
            self._serve(options)

    def _serve(self, options: dict[str, Any]) -> None:
        children = [self._start_notify(), *self._start_ingest(options["ingest_port"])]
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

    def _start_notify(self) -> subprocess.Popen[bytes]:
        """The outbox worker: with CASE_EVENT_DELIVERY=worker (as in production) it delivers every
        case event; with the development default it picks up what a crash left behind."""
        return subprocess.Popen([sys.executable, "-m", "civicloop", "notify", "--loop"])

    def _start_ingest(self, port: int) -> list[subprocess.Popen[bytes]]:
        civicloop = [sys.executable, "-m", "civicloop"]
        ingest = [*civicloop, "ingest", "--host", "127.0.0.1", "--port", str(port)]
        if _port_open("127.0.0.1", 1883):
            ingest += ["--mqtt-host", "127.0.0.1"]
        listener = subprocess.Popen(ingest)
        simulator = subprocess.Popen(
            [
                *civicloop,
                "hj212",
                "simulate",
                "--demo",
                "--port",
                str(port),
                "--rate",
                "1/30",
                "--no-progress",
            ]
        )
        return [simulator, listener]

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
