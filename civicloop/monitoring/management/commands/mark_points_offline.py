"""`civicloop mark_points_offline [--loop]`: the offline sweep as a worker of its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _

from civicloop.lib.worker import LoopCommand, positive_minutes
from civicloop.monitoring.services import DEFAULT_OFFLINE_AFTER, mark_silent_points_offline


class Command(LoopCommand):
    help = _(
        "把超过 --silent-minutes 分钟没有接收到有效数据的在线监测点标为离线；"
        "civicloop ingest 自己也会定时执行（--offline-check）。可同时运行多个 --loop 进程。"
    )
    default_interval = 60.0

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--silent-minutes",
            type=positive_minutes,
            default=DEFAULT_OFFLINE_AFTER.total_seconds() / 60,
            help=_("多少分钟没有有效数据算离线（默认 30）"),
        )

    def run_pass(self, options: dict[str, Any]) -> str:
        silent_for = timedelta(minutes=options["silent_minutes"])
        count = mark_silent_points_offline(silent_for=silent_for)
        return _("%(count)d 个监测点标为离线") % {"count": count}
