"""Working-time arithmetic on a fixed calendar: the 2025 National Day week with its two 调休
working days (Sunday 28 September and Saturday 11 October), ordinary weekends, lunch breaks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicloop.lib.workcal import (
    SHANGHAI,
    CalendarError,
    WorkCalendar,
    calendar_from_days,
)

NATIONAL_DAY_2025 = [date(2025, 10, d) for d in range(1, 9)]
MAKE_UP_2025 = [date(2025, 9, 28), date(2025, 10, 11)]
CAL = calendar_from_days(
    [(d, False) for d in NATIONAL_DAY_2025] + [(d, True) for d in MAKE_UP_2025]
)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


H = timedelta(hours=1)


def test_a_working_day_is_seven_hours() -> None:
    assert CAL.day_length == 7 * H
    assert CAL.working_days(2) == 14 * H


def test_the_lunch_break_does_not_count() -> None:
    # Thursday 9:00 + 4 h: 9:00–12:00 is 3 h, then 14:00–15:00.
    assert CAL.add(at(2026, 11, 26, 9), 4 * H) == at(2026, 11, 26, 15)


def test_a_deadline_may_end_exactly_at_noon() -> None:
    assert CAL.add(at(2026, 11, 26, 9), 3 * H) == at(2026, 11, 26, 12)


def test_the_weekend_is_skipped() -> None:
    # Friday 16:00 + 4 h: 1.5 h on Friday, 2.5 h on Monday from 8:30.
    assert CAL.add(at(2026, 11, 27, 16), 4 * H) == at(2026, 11, 30, 11)
    assert CAL.elapsed(at(2026, 11, 27, 16), at(2026, 11, 30, 11)) == 4 * H


def test_working_days_from_thursday_end_on_monday() -> None:
    assert CAL.add(at(2026, 11, 26, 9), CAL.working_days(2)) == at(2026, 11, 30, 9)


def test_the_national_day_week_is_skipped() -> None:
    # Tuesday 30 September 10:00 + 1 working day: 5.5 h that day, then 9 October.
    assert CAL.add(at(2025, 9, 30, 10), CAL.working_days(1)) == at(2025, 10, 9, 10)
    assert CAL.elapsed(at(2025, 9, 30, 17), at(2025, 10, 9, 9)) == H


def test_a_make_up_saturday_is_a_working_day() -> None:
    # Friday 10 October 16:00 + 4 h ends on Saturday 11 October (调休), not on Monday.
    assert CAL.is_working_day(date(2025, 10, 11))
    assert CAL.add(at(2025, 10, 10, 16), 4 * H) == at(2025, 10, 11, 11)


def test_a_make_up_sunday_before_the_holiday_counts_too() -> None:
    assert CAL.add(at(2025, 9, 27, 10), H) == at(2025, 9, 28, 9, 30)
    assert not CAL.is_working_day(date(2025, 10, 12))


def test_a_start_outside_working_hours_counts_from_the_next_period() -> None:
    assert CAL.add(at(2026, 11, 29, 20), H) == at(2026, 11, 30, 9, 30)
    assert CAL.add(at(2026, 11, 29, 20), timedelta(0)) == at(2026, 11, 29, 20)
    assert CAL.next_working_instant(at(2026, 11, 26, 12, 30)) == at(2026, 11, 26, 14)
    assert CAL.next_working_instant(at(2026, 11, 26, 9)) == at(2026, 11, 26, 9)


def test_elapsed_is_signed_and_zero_outside_working_time() -> None:
    assert CAL.elapsed(at(2026, 11, 30, 11), at(2026, 11, 27, 16)) == -4 * H
    assert CAL.elapsed(at(2026, 11, 28, 9), at(2026, 11, 29, 18)) == timedelta(0)
    assert CAL.elapsed(at(2026, 11, 26, 12), at(2026, 11, 26, 14)) == timedelta(0)


def test_utc_instants_follow_local_days() -> None:
    # 2026-11-26 01:00 UTC is 9:00 in Yiwu; two working hours later is 03:00 UTC.
    start = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    assert CAL.add(start, 2 * H) == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def test_configurable_periods() -> None:
    summer = WorkCalendar(periods=((time(8, 30), time(12, 0)), (time(14, 30), time(18, 0))))
    assert summer.day_length == 7 * H
    assert summer.add(at(2026, 7, 2, 11), 2 * H) == at(2026, 7, 2, 15, 30)


@pytest.mark.parametrize(
    "periods",
    [
        (),
        ((time(12), time(8, 30)),),
        ((time(8, 30), time(12)), (time(11), time(17))),
    ],
)
def test_bad_periods_are_refused(periods: tuple[tuple[time, time], ...]) -> None:
    with pytest.raises(CalendarError):
        WorkCalendar(periods=periods)


def test_naive_datetimes_and_negative_durations_are_refused() -> None:
    with pytest.raises(CalendarError):
        CAL.add(datetime(2026, 11, 26, 9), H)
    with pytest.raises(CalendarError):
        CAL.add(at(2026, 11, 26, 9), -H)


def test_a_calendar_without_working_days_cannot_answer() -> None:
    never = WorkCalendar(weekend=frozenset(range(7)))
    with pytest.raises(CalendarError):
        never.add(at(2026, 11, 26, 9), H)


def test_the_calendar_agrees_with_chinese_calendar_for_2025() -> None:
    from chinese_calendar import constants

    cal = calendar_from_days(
        [(d, False) for d in constants.holidays if d.year == 2025]
        + [(d, True) for d in constants.workdays if d.year == 2025]
    )
    day = date(2025, 1, 1)
    while day.year == 2025:
        assert cal.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


instants = st.datetimes(
    min_value=datetime(2025, 9, 1), max_value=datetime(2025, 11, 30), timezones=st.just(SHANGHAI)
)
minutes = st.integers(min_value=0, max_value=60 * 7 * 30)


@given(start=instants, minutes=minutes)
def test_elapsed_inverts_add(start: datetime, minutes: int) -> None:
    duration = timedelta(minutes=minutes)
    assert CAL.elapsed(start, CAL.add(start, duration)) == duration


@given(start=instants, end=instants)
def test_add_reaches_the_end_of_the_elapsed_time(start: datetime, end: datetime) -> None:
    worked = CAL.elapsed(start, end)
    if worked > timedelta(0):
        reached = CAL.add(start, worked)
        assert reached <= end
        assert CAL.elapsed(reached, end) == timedelta(0)
