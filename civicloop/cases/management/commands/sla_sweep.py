"""`civicloop sla_sweep [--loop]`: mark clocks that reached 80 %, their deadline or the serious
threshold. Run several with --loop under systemd; they share the work safely."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from civicloop.cases.sweep import sla_sweep
from civicloop.lib.worker import LoopCommand, positive_int


class Command(LoopCommand):
    help = "标记临期、超期和严重超期的案件并逐级通知"
    default_interval = 60.0

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--batch", type=positive_int, default=500, help="clocks per transaction"
        )

    def run_pass(self, options: dict[str, Any]) -> str:
        result = sla_sweep(batch=options["batch"])
        return f"sla sweep: {result.clocks} clocks, {result.events} events"
