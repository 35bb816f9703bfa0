"""Working-time arithmetic over a working calendar. Pure: no Django, no database.

A calendar knows which local dates are working days — Monday to Friday, except statutory
holidays, plus the make-up working days (调休) that fall on a weekend — and the working periods
of a working day (8:30–12:00 and 14:00–17:30, say). A limit of "4 working hours" or
"2 working days" is then an amount of working time; a deadline is the instant at which that much
working time has passed, and elapsed working time is the overlap of an interval with the
working periods.

A working day counts as the length of one day's periods (7 hours by default), so "2 working
days" from Thursday 9:00 ends on Monday 9:00, and a start outside working hours counts from the
next working period. All instants are aware datetimes; day boundaries follow `tz`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_PERIODS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(14, 0), time(17, 30)),
)
WEEKEND = frozenset({5, 6})
# No arithmetic walks further than this: a calendar without working days is a data error.
MAX_DAYS = 3660
ZERO = timedelta(0)


class CalendarError(ValueError):
    """The calendar cannot answer: bad periods, a naive datetime, no working time ahead."""


@dataclass(frozen=True)
class WorkCalendar:
    periods: tuple[tuple[time, time], ...] = DEFAULT_PERIODS
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    tz: tzinfo = SHANGHAI
    weekend: frozenset[int] = field(default=WEEKEND)

    def __post_init__(self) -> None:
        if not self.periods:
            raise CalendarError("a working day needs at least one working period")
        previous_end: time | None = None
        for start, end in self.periods:
            if start >= end or (previous_end is not None and start < previous_end):
                raise CalendarError("working periods must be ordered and must not overlap")
            previous_end = end

    @property
    def day_length(self) -> timedelta:
        """The working time of one working day."""
        today = date(2000, 1, 3)
        return sum(
            (
                datetime.combine(today, end) - datetime.combine(today, start)
                for start, end in self.periods
            ),
            ZERO,
        )

    def working_days(self, count: int) -> timedelta:
        return count * self.day_length

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() not in self.weekend

    def periods_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of a local date as aware instants (none on a day off)."""
        if not self.is_working_day(day):
            return []
        return [
            (
                datetime.combine(day, start, tzinfo=self.tz),
                datetime.combine(day, end, tzinfo=self.tz),
            )
            for start, end in self.periods
        ]

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which `duration` of working time has passed since `start`."""
        if duration < ZERO:
            raise CalendarError("working time cannot be negative")
        cursor = self._aware(start)
        if duration == ZERO:
            return cursor
        remaining = duration
        for day in self._days_from(self._local_date(cursor)):
            for period_start, period_end in self.periods_on(day):
                begin = max(cursor, period_start)
                if begin >= period_end:
                    continue
                if remaining <= period_end - begin:
                    return begin + remaining
                remaining -= period_end - begin
        raise CalendarError(f"no working time within {MAX_DAYS} days")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two instants; negative when `end` is before `start`."""
        start, end = self._aware(start), self._aware(end)
        if end < start:
            return -self.elapsed(end, start)
        total = ZERO
        day, last = self._local_date(start), self._local_date(end)
        while day <= last:
            for period_start, period_end in self.periods_on(day):
                overlap = min(end, period_end) - max(start, period_start)
                if overlap > ZERO:
                    total += overlap
            day += timedelta(days=1)
        return total

    def next_working_instant(self, at: datetime) -> datetime:
        """`at` if it is inside a working period, else the start of the next one."""
        return self._aware(at) if self.is_working_at(at) else self._next_start(at)

    def is_working_at(self, at: datetime) -> bool:
        at = self._aware(at)
        return any(s <= at < e for s, e in self.periods_on(self._local_date(at)))

    def _next_start(self, at: datetime) -> datetime:
        at = self._aware(at)
        for day in self._days_from(self._local_date(at)):
            for period_start, _end in self.periods_on(day):
                if period_start >= at:
                    return period_start
        raise CalendarError(f"no working time within {MAX_DAYS} days")

    def _aware(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise CalendarError("working-time arithmetic needs aware datetimes")
        return at.astimezone(self.tz)

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    @staticmethod
    def _days_from(first: date) -> Iterator[date]:
        for offset in range(MAX_DAYS):
            yield first + timedelta(days=offset)


def calendar_from_days(
    days: Iterable[tuple[date, bool]],
    periods: Iterable[tuple[time, time]] = DEFAULT_PERIODS,
    tz: tzinfo = SHANGHAI,
) -> WorkCalendar:
    """A calendar from exception days: (date, is_working) — holidays and 调休 working days."""
    holidays: set[date] = set()
    workdays: set[date] = set()
    for day, is_working in days:
        (workdays if is_working else holidays).add(day)
    return WorkCalendar(
        periods=tuple(periods) or DEFAULT_PERIODS,
        holidays=frozenset(holidays),
        workdays=frozenset(workdays),
        tz=tz,
    )
