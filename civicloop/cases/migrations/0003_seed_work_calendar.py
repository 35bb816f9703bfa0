"""Seed the working calendar from chinese-calendar (every year it knows) and the default working
day (8:30–12:00, 14:00–17:30). `civicloop workcal seed` does the same after an upgrade."""

import datetime

from django.db import migrations


def seed(apps, schema_editor):
    from civicloop.cases.workdays import PACKAGE, package_days

    Day = apps.get_model("cases", "WorkCalendarDay")
    Period = apps.get_model("cases", "WorkingPeriod")
    existing = set(Day.objects.values_list("day", flat=True))
    Day.objects.bulk_create(
        [
            Day(day=day, is_working=is_working, name=name, source=PACKAGE)
            for day, is_working, name in package_days()
            if day not in existing
        ]
    )
    if not Period.objects.exists():
        Period.objects.bulk_create(
            [
                Period(start=datetime.time(8, 30), end=datetime.time(12, 0)),
                Period(start=datetime.time(14, 0), end=datetime.time(17, 30)),
            ]
        )


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_sla")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
