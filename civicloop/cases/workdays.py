"""The working calendar as data: seeding from chinese-calendar, and the administrator's edits.

`WorkCalendarDay` holds only exceptions (holidays on weekdays and weekends alike, and make-up
working days); every other Monday–Friday is a working day. `WorkingPeriod` holds the working
periods of a day. The SLA engine reads both through `sla.config()`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time

from chinese_calendar import constants
from django.db import transaction
from django.utils.translation import gettext as _

from civicloop.cases import errors
from civicloop.cases.errors import Code
from civicloop.cases.models import SlaRevision, WorkCalendarDay, WorkingPeriod
from civicloop.lib.workcal import DEFAULT_PERIODS, CalendarError, WorkCalendar

PACKAGE = "chinese_calendar"
_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


def package_days() -> list[tuple[date, bool, str]]:
    """Every exception day chinese-calendar knows: (date, is_working, name)."""
    rows = [(d, False, _NAMES.get(str(n), str(n))) for d, n in constants.holidays.items()]
    rows += [
        (d, True, f"{_NAMES.get(str(n), str(n))}调休上班") for d, n in constants.workdays.items()
    ]
    return sorted(rows)


def package_years() -> list[int]:
    return sorted({d.year for d, _w, _n in package_days()})


@transaction.atomic
def calendar_seed(days: Iterable[tuple[date, bool, str]] | None = None) -> int:
    """Create or update the package's days; days an administrator set are left alone.
    Returns how many rows were written."""
    written = 0
    admin_days = set(WorkCalendarDay.objects.exclude(source=PACKAGE).values_list("day", flat=True))
    existing = {row.day: row for row in WorkCalendarDay.objects.filter(source=PACKAGE).only("day")}
    for day, is_working, name in package_days() if days is None else days:
        if day in admin_days:
            continue
        row = existing.get(day)
        if row is None:
            WorkCalendarDay.objects.create(
                day=day, is_working=is_working, name=name, source=PACKAGE
            )
            written += 1
        elif (row.is_working, row.name) != (is_working, name):
            WorkCalendarDay.objects.filter(pk=row.pk).update(is_working=is_working, name=name)
            written += 1
    return written


@transaction.atomic
def calendar_day_set(*, day: date, is_working: bool, name: str = "") -> WorkCalendarDay:
    """An administrator's exception day (e.g. next year's holidays once published)."""
    row, _ = WorkCalendarDay.objects.update_or_create(
        day=day, defaults={"is_working": is_working, "name": name.strip(), "source": "admin"}
    )
    return row


@transaction.atomic
def working_periods_set(periods: list[tuple[time, time]]) -> list[WorkingPeriod]:
    """Replace the working periods of a day; refused unless ordered and non-overlapping."""
    working_periods_check(periods)
    _lock_configuration()
    WorkingPeriod.objects.all().delete()
    return [WorkingPeriod.objects.create(start=s, end=e) for s, e in periods]


@transaction.atomic
def working_period_save(*, period: WorkingPeriod) -> WorkingPeriod:
    """Add one working period or change it (the admin edits them one by one); refused unless
    the day's periods, with this one, stay ordered and non-overlapping: every deadline is
    computed from them, and an invalid set would stop every report and transition."""
    _lock_configuration()
    working_periods_check(working_periods_with(period))
    period.save()
    return period


def working_periods_with(period: WorkingPeriod) -> list[tuple[time, time]]:
    """The day's periods by start, with `period` added or in place of its saved self."""
    others = WorkingPeriod.objects.exclude(pk=period.pk) if period.pk else WorkingPeriod.objects
    periods = [*others.values_list("start", "end"), (period.start, period.end)]
    return sorted(periods)


def working_periods_check(periods: list[tuple[time, time]]) -> None:
    try:
        WorkCalendar(periods=tuple(periods))
    except CalendarError as e:
        raise errors.invalid(
            Code.PERIODS_INVALID, _("工作时段必须按时间顺序排列且互不重叠，结束时间须晚于开始时间")
        ) from e


def _lock_configuration() -> None:
    """Edits of the configuration take its revision row's lock first, so two administrators
    saving periods at once are checked one after the other, each against the other's."""
    list(SlaRevision.objects.select_for_update().filter(id=1).values_list("id", flat=True))


def working_periods_seed() -> int:
    """The default day (8:30–12:00, 14:00–17:30) when none is configured."""
    if WorkingPeriod.objects.exists():
        return 0
    return len(working_periods_set(list(DEFAULT_PERIODS)))
