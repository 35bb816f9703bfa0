"""`civicloop notify [--loop]`: deliver committed case events to the notifications (inbox, email,
SMS). The case event table is the outbox; run one or more with --loop under systemd in
production (CASE_EVENT_DELIVERY=worker): they lock the events they deliver, so no event is
delivered twice, and they take them oldest first."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from civicloop.cases.events import drain


class Command(BaseCommand):
    help = "投递案件事件消息（站内信、邮件、短信）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep delivering until stopped")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds between polls when idle"
        )
        parser.add_argument("--batch", type=int, default=200, help="events per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        self._stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        while True:
            delivered = drain(batch=options["batch"])
            if delivered or not options["loop"]:
                self.stdout.write(f"notify: {delivered} events delivered")
            if not options["loop"] or self._stopping:
                return
            close_old_connections()
            self._sleep(options["interval"])
            if self._stopping:
                return

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0.0)))

    def _stop(self, signum: int, frame: Any) -> None:
        self._stopping = True
