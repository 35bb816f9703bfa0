from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from civicloop.environment.sweep import sweep


class Command(BaseCommand):
    help = (
        "Environment sweep: exceedance and abnormal-data rules over every monitored outlet, "
        "alerts into cases, alerts resolved when their case closes, micro-station AQI. "
        "Several --loop workers may run at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Run until SIGTERM/SIGINT.")
        parser.add_argument(
            "--interval", type=int, default=300, help="Seconds between passes (default 300)."
        )
        parser.add_argument(
            "--no-stations", action="store_true", help="Skip the micro-station AQI."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stations = not options["no_stations"]
        if not options["loop"]:
            self.stdout.write(sweep(stations=stations).line())
            return
        self._stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self._stopping:
            close_old_connections()
            self.stdout.write(sweep(stations=stations).line())
            self._sleep(options["interval"])

    def _sleep(self, seconds: int) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(1.0, deadline - time.monotonic()))

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True
