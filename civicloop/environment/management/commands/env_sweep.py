from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from civicloop.environment.sweep import sweep
from civicloop.lib.worker import LoopCommand


class Command(LoopCommand):
    help = (
        "Environment sweep: exceedance and abnormal-data rules over every monitored outlet, "
        "alerts into cases, alerts resolved when their case closes, micro-station AQI. "
        "Several --loop workers may run at once."
    )
    default_interval = 300.0

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-stations", action="store_true", help="Skip the micro-station AQI."
        )

    def run_pass(self, options: dict[str, Any]) -> str:
        return sweep(stations=not options["no_stations"]).line()
