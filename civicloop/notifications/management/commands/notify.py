"""`civicloop notify [--loop]`: deliver committed case events to the notifications (inbox, email,
SMS). The case event table is the outbox; run one or more with --loop under systemd in
production (CASE_EVENT_DELIVERY=worker): they lock the events they deliver, so no event is
delivered twice, and they take them oldest first."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.db import connection

from civicloop.cases.events import drain
from civicloop.lib.worker import LoopCommand, positive_int

# SQLite has one writer at a time, and a waiting writer (the demo's other workers) polls for
# the lock only every 100 ms once it has waited a quarter of a second (SQLite's busy handler).
# A drain that commits a batch and begins the next at once leaves them no opening: they ran out
# their 20-s busy timeout while `notify` delivered the demo's few thousand events. Waiting
# longer than one poll between batches lets each of them in.
SQLITE_PAUSE = 0.25


class Command(LoopCommand):
    help = "投递案件事件消息（站内信、邮件、短信）"
    default_interval = 1.0
    loop_help = "keep delivering until stopped"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--batch", type=positive_int, default=200, help="events per transaction"
        )

    def run_pass(self, options: dict[str, Any]) -> str | None:
        pause = SQLITE_PAUSE if connection.vendor == "sqlite" else 0.0
        delivered = drain(
            batch=options["batch"], pause=pause, stopping=lambda: getattr(self, "stopping", False)
        )
        if delivered or not options["loop"]:
            return f"notify: {delivered} events delivered"
        return None
