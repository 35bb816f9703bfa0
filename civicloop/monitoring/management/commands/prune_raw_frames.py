from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from civicloop.monitoring.services import prune_raw_frames, raw_retention_days


class Command(BaseCommand):
    help = "Delete raw HJ 212 frames older than MONITORING_RAW_RETENTION_DAYS (default 90)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the frames that would go; delete none."
        )
        parser.add_argument(
            "--days", type=int, default=None, help="Retention in days (overrides the setting)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            days = options["days"] if options["days"] is not None else raw_retention_days()
            count = prune_raw_frames(retention_days=days, dry_run=options["dry_run"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(f"{verb} {count} raw frames older than {days} days")
