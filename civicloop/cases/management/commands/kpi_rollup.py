"""`civicloop kpi_rollup [--loop]`: add the cases that have settled to the per-day KPI rollups
(cases.kpi_rollups). Run one or more with --loop under systemd; they share the work safely.
`--rebuild` empties the rollups first (after an indicator's definition changed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from civicloop.cases import kpi_rollups
from civicloop.lib.worker import LoopCommand, positive_int


class Command(LoopCommand):
    help = "将已办结且不再变化的案件计入考核指标日汇总"
    default_interval = 300.0

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--batch", type=positive_int, default=1000, help="cases per transaction"
        )
        parser.add_argument(
            "--rebuild", action="store_true", help="empty the rollups and roll every case again"
        )

    def run_pass(self, options: dict[str, Any]) -> str:
        if options["rebuild"]:
            options["rebuild"] = False  # once, not on every pass of a loop
            result = kpi_rollups.rebuild(batch=options["batch"])
        else:
            result = kpi_rollups.roll(batch=options["batch"])
        return f"kpi rollup: {result.cases} cases, {result.rows} rollup rows"
