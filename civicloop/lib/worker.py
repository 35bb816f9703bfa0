"""`--loop` management commands: one pass, or a pass every `--interval` seconds until SIGTERM or
SIGINT. A database error during a pass (a locked SQLite file, a PostgreSQL restart or
failover) is logged and the pass is tried again after the interval: a worker run by systemd
or by `make demo` must not die of a transient error, and every pass is idempotent."""

from __future__ import annotations

import argparse
import logging
import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections, connections
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a batch size)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"需要不小于 1 的整数，收到 {text!r}")
    return value


def seconds(text: str) -> float:
    """An argparse type: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"需要不小于 0 的秒数，收到 {text!r}")
    return value


def positive_minutes(text: str) -> float:
    """An argparse type: a number of minutes above zero."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:  # also NaN
        raise argparse.ArgumentTypeError(_("需要大于 0 的分钟数，收到 %(text)r") % {"text": text})
    return value


class LoopCommand(BaseCommand):
    default_interval: float = 60.0
    loop_help = "run until SIGTERM/SIGINT"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help=self.loop_help)
        parser.add_argument(
            "--interval",
            type=seconds,
            default=self.default_interval,
            help=f"seconds between passes ({self.default_interval:g})",
        )

    def run_pass(self, options: dict[str, Any]) -> str | None:
        """Do the work once; the line to print, if any."""
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["loop"]:
            self._write(self.run_pass(options))
            return
        self.stopping = False
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._loop(options)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _loop(self, options: dict[str, Any]) -> None:
        while not self.stopping:
            try:
                self._write(self.run_pass(options))
            except DatabaseError:
                logger.warning(
                    "%s: pass failed, retrying in %g s",
                    self.__module__.rsplit(".", 1)[-1],
                    options["interval"],
                    exc_info=True,
                )
                connections.close_all()  # a broken connection is reopened on the next pass
            close_old_connections()
            self._sleep(options["interval"])

    def _write(self, line: str | None) -> None:
        if line:
            self.stdout.write(line)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0.0)))

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
