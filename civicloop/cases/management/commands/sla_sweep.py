"""`civicloop sla_sweep [--loop]`: mark clocks that reached 80 %, their deadline or the serious
threshold. Run several with --loop under systemd; they share the work safely."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from civicloop.cases.sweep import sla_sweep


class Command(BaseCommand):
    help = "标记临期、超期和严重超期的案件并逐级通知"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep sweeping until stopped")
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between runs")
        parser.add_argument("--batch", type=int, default=500, help="clocks per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        self._stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        while True:
            result = sla_sweep(batch=options["batch"])
            self.stdout.write(f"sla sweep: {result.clocks} clocks, {result.events} events")
            if not options["loop"] or self._stopping:
                return
            close_old_connections()
            self._sleep(options["interval"])
            if self._stopping:
                return

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(1.0, deadline - time.monotonic()))

    def _stop(self, signum: int, frame: Any) -> None:
        self._stopping = True
