from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime

from civicloop.lib import clock
from civicloop.lib.worker import LoopCommand
from civicloop.monitoring.rollups import LOCAL_TZ, day_start
from civicloop.monitoring.services import rollup_recent

logger = logging.getLogger(__name__)


def parse_since(text: str) -> datetime:
    """An ISO date or datetime; naive values are Asia/Shanghai local time."""
    parsed = parse_datetime(text)
    if parsed is None:
        day = parse_date(text)
        if day is None:
            raise CommandError(f"--since: not a date or datetime: {text!r}")
        parsed = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ)


class Command(LoopCommand):
    help = (
        "Compute hourly and daily values (source=computed) where devices did not send them. "
        "Several --loop workers may run at once."
    )
    default_interval = 300.0

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--since",
            type=parse_since,
            default=None,
            help="Start (ISO date/datetime, local time). Default: start of yesterday.",
        )

    def run_pass(self, options: dict[str, Any]) -> str:
        start = options["since"] or day_start(clock.now()) - timedelta(days=1)
        summary = rollup_recent(since=start)
        for difference in summary.differences:
            logger.info("device value differs from computed: %s", difference)
        return (
            f"points={summary.points} skipped={summary.skipped} "
            f"hours={summary.hours_written} days={summary.days_written} "
            f"differences={len(summary.differences)}"
        )
