from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from civicloop.monitoring.partitions import ensure_partitions_around_now, is_postgresql


class Command(BaseCommand):
    help = (
        "Create the monthly partitions of the readings table (PostgreSQL) for the current "
        "Asia/Shanghai month and the next N months. Idempotent: run it monthly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--months", type=int, default=3, help="Months ahead (default 3).")
        parser.add_argument("--past", type=int, default=0, help="Months back (default 0).")
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        if not is_postgresql(options["database"]):
            self.stdout.write("not PostgreSQL: the readings table is not partitioned")
            return
        created = ensure_partitions_around_now(
            before=max(options["past"], 0),
            after=max(options["months"], 0),
            using=options["database"],
        )
        for table in created:
            self.stdout.write(f"created {table}")
        self.stdout.write(f"{len(created)} partitions created")
