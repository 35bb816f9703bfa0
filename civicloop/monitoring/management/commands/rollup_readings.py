from __future__ import annotations

import logging
import signal
import time
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections
from django.utils.dateparse import parse_date, parse_datetime

from civicloop.lib import clock
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


class Command(BaseCommand):
    help = (
        "Compute hourly and daily values (source=computed) where devices did not send them. "
        "Several --loop workers may run at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            type=parse_since,
            default=None,
            help="Start (ISO date/datetime, local time). Default: start of yesterday.",
        )
        parser.add_argument("--loop", action="store_true", help="Run until SIGTERM/SIGINT.")
        parser.add_argument(
            "--interval", type=int, default=300, help="Seconds between passes (default 300)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["loop"]:
            self._pass(options["since"])
            return
        self._stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self._stopping:
            close_old_connections()
            self._pass(options["since"])
            self._sleep(options["interval"])

    def _pass(self, since: datetime | None) -> None:
        start = since or day_start(clock.now()) - timedelta(days=1)
        summary = rollup_recent(since=start)
        self.stdout.write(
            f"points={summary.points} skipped={summary.skipped} "
            f"hours={summary.hours_written} days={summary.days_written} "
            f"differences={len(summary.differences)}"
        )
        for difference in summary.differences:
            logger.info("device value differs from computed: %s", difference)

    def _sleep(self, seconds: int) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(1.0, deadline - time.monotonic()))

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True
