"""`civicloop workcal seed` reloads holidays and 调休 days from chinese-calendar (after upgrading
the package); `civicloop workcal show 2026` prints a year's exception days."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from civicloop.cases.models import WorkCalendarDay, WorkingPeriod
from civicloop.cases.workdays import calendar_seed, package_years, working_periods_seed


class Command(BaseCommand):
    help = "工作日历：从 chinese-calendar 导入节假日与调休，或查看某年的日历"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("seed", help="import every year chinese-calendar knows")
        show = sub.add_parser("show", help="list a year's holidays and make-up working days")
        show.add_argument("year", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "seed":
            written = calendar_seed()
            periods = working_periods_seed()
            years = package_years()
            self.stdout.write(
                f"calendar: {written} days written for {years[0]}–{years[-1]}, "
                f"{periods} working periods created"
            )
            return
        for row in WorkCalendarDay.objects.filter(day__year=options["year"]):
            kind = "上班" if row.is_working else "休息"
            self.stdout.write(f"{row.day:%Y-%m-%d} {kind} {row.name} ({row.source})")
        shown = ", ".join(str(p) for p in WorkingPeriod.objects.all())
        self.stdout.write(f"working periods: {shown or '8:30–12:00, 14:00–17:30 (default)'}")
