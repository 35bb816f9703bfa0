from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from civicloop.lib.clock import frozen
from civicloop.monitoring.models import Reading, ReadingKind, ReadingSource
from civicloop.monitoring.rollups import (
    Difference,
    Sample,
    Tolerance,
    compare,
    day_start,
    hour_start,
    is_valid_flag,
    roll_up_days,
    roll_up_hours,
)
from civicloop.monitoring.services import rollup_point_days, rollup_point_hours
from civicloop.monitoring.tests.conftest import T0
from civicloop.monitoring.writer import ReadingRow, store_readings

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
# 2024-05-02 00:00 Asia/Shanghai = 2024-05-01 16:00 UTC.
LOCAL_MAY_2 = datetime(2024, 5, 1, 16, 0, tzinfo=UTC)


def minutes(count: int, *, start: datetime = T0, flag: str = "N", step: int = 1) -> list[Sample]:
    """`count` minute samples with values 1, 2, 3 … every `step` minutes."""
    return [
        Sample(code="a21026", start=start + i * step * MINUTE, avg=float(i + 1), flag=flag)
        for i in range(count)
    ]


def hours(count: int, *, start: datetime = LOCAL_MAY_2, value: float = 10.0) -> list[Sample]:
    return [
        Sample(code="a21026", start=start + i * HOUR, avg=value, flag="N") for i in range(count)
    ]


# Pure rules ---------------------------------------------------------------------------------


def test_44_valid_minutes_give_no_hourly_value():
    assert roll_up_hours(minutes(44), interval_minutes=1) == []


def test_45_valid_minutes_give_the_exact_mean():
    [hour] = roll_up_hours(minutes(45), interval_minutes=1)

    assert (hour.code, hour.start) == ("a21026", T0)
    assert (hour.avg, hour.min, hour.max) == (23.0, 1.0, 45.0)
    assert (hour.valid_count, hour.valid_minutes, hour.flag) == (45, 45, "N")


def test_invalid_flags_are_excluded_from_the_mean_and_the_count():
    valid = minutes(45)
    calibrating = [
        Sample(code="a21026", start=T0 + (45 + i) * MINUTE, avg=1000.0, flag=flag)
        for i, flag in enumerate("CMDFBCMDFBCMDFB")
    ]

    [hour] = roll_up_hours(valid + calibrating, interval_minutes=1)

    assert (hour.avg, hour.max, hour.valid_count) == (23.0, 45.0, 45)
    assert roll_up_hours(valid[1:] + calibrating, interval_minutes=1) == []


@pytest.mark.parametrize("flag", ["N", "n", "", " N ", "S", "T", "3", "1"])
def test_valid_flags(flag):
    assert is_valid_flag(flag)


@pytest.mark.parametrize("flag", ["F", "M", "D", "C", "B", "P", "0", "2", "H", "X", "NN"])
def test_invalid_flags(flag):
    assert not is_valid_flag(flag)


def test_marked_values_mark_the_aggregate():
    samples = [*minutes(44), Sample(code="a21026", start=T0 + 50 * MINUTE, avg=45.0, flag="T")]

    [hour] = roll_up_hours(samples, interval_minutes=1)

    assert (hour.avg, hour.flag) == (23.0, "T")


def test_min_max_and_cou_come_from_the_minute_records():
    samples = [
        Sample(code="w00000", start=T0 + i * MINUTE, avg=2.0, min=1.0, max=3.0 + i, cou=0.5)
        for i in range(45)
    ]

    [hour] = roll_up_hours(samples, interval_minutes=1)

    assert (hour.avg, hour.min, hour.max, hour.cou) == (2.0, 1.0, 47.0, 22.5)


def test_ten_minute_records_count_ten_minutes_each():
    five = minutes(5, step=10)  # 50 minutes
    four = minutes(4, step=10)  # 40 minutes

    [hour] = roll_up_hours(five, interval_minutes=10)

    assert (hour.avg, hour.valid_minutes) == (3.0, 50)
    assert roll_up_hours(four, interval_minutes=10) == []


def test_a_too_large_configured_interval_cannot_inflate_the_minutes():
    # Device sends every minute but the point says 10: 44 records are still 44 minutes.
    assert roll_up_hours(minutes(44), interval_minutes=10) == []


def test_hours_are_clock_hours():
    samples = minutes(45, start=T0 + 30 * MINUTE)  # 08:30–09:14 local: 30 + 15 minutes

    assert roll_up_hours(samples, interval_minutes=1) == []


def test_19_valid_hours_give_no_daily_value():
    assert roll_up_days(hours(19)) == []


def test_20_valid_hours_give_a_daily_value():
    samples = hours(20) + [
        Sample(code="a21026", start=LOCAL_MAY_2 + (20 + i) * HOUR, avg=99.0, flag="D")
        for i in range(4)
    ]

    [day] = roll_up_days(samples)

    assert (day.start, day.avg, day.valid_count) == (LOCAL_MAY_2, 10.0, 20)


def test_days_are_asia_shanghai_days():
    # 15:00 UTC is 23:00 local on 1 May; 16:00 UTC is 00:00 local on 2 May.
    may_1 = hours(20, start=LOCAL_MAY_2 - 20 * HOUR, value=1.0)
    may_2 = hours(20, start=LOCAL_MAY_2, value=2.0)

    days = roll_up_days(may_1 + may_2)

    assert [(day.start, day.avg) for day in days] == [
        (LOCAL_MAY_2 - timedelta(days=1), 1.0),
        (LOCAL_MAY_2, 2.0),
    ]
    assert day_start(LOCAL_MAY_2 - MINUTE) == datetime(2024, 4, 30, 16, 0, tzinfo=UTC)
    assert day_start(LOCAL_MAY_2) == LOCAL_MAY_2
    assert hour_start(datetime(2024, 5, 1, 7, 59, 59, tzinfo=UTC)) == datetime(
        2024, 5, 1, 7, 0, tzinfo=UTC
    )


def test_compare_reports_differences_beyond_the_tolerance():
    [hour] = roll_up_hours(minutes(45), interval_minutes=1)  # avg 23, min 1, max 45
    device = [Sample(code="a21026", start=T0, avg=23.2, min=1.0, max=44.0, cou=7.0)]

    differences = compare([hour], device, tolerance=Tolerance(relative=0.01))

    assert differences == [Difference("a21026", T0, "max", 45.0, 44.0)]
    assert compare([hour], device, tolerance=Tolerance(relative=0.05)) == []


# Services -----------------------------------------------------------------------------------


def minute_rows(point, count: int, *, start: datetime = T0, flag: str = "N") -> list[ReadingRow]:
    return [
        ReadingRow(
            point_id=point.pk,
            kind=ReadingKind.MINUTE,
            code="w01018",
            data_time=start + i * MINUTE,
            avg=float(i + 1),
            cou=0.25,
            flag=flag,
        )
        for i in range(count)
    ]


def test_rollup_point_hours_writes_computed_hours(point):
    store_readings(minute_rows(point, 45) + minute_rows(point, 44, start=T0 + HOUR))

    result = rollup_point_hours(point=point, start=T0, end=T0 + 2 * HOUR)

    assert (result.written, result.differences) == (1, [])
    hour = Reading.objects.get(kind=ReadingKind.HOUR)
    assert (hour.code, hour.data_time, hour.source) == ("w01018", T0, ReadingSource.COMPUTED)
    assert (hour.avg, hour.min, hour.max, hour.cou, hour.flag) == (23.0, 1.0, 45.0, 11.25, "N")


def test_rollup_is_idempotent(point):
    store_readings(minute_rows(point, 45))
    rollup_point_hours(point=point, start=T0, end=T0 + HOUR)

    again = rollup_point_hours(point=point, start=T0, end=T0 + HOUR)

    assert again.written == 0
    assert Reading.objects.filter(kind=ReadingKind.HOUR).count() == 1


def test_rollup_skips_the_open_hour(point):
    store_readings(minute_rows(point, 50))

    result = rollup_point_hours(point=point, start=T0, end=T0 + 50 * MINUTE)

    assert result.written == 0


def test_rollup_keeps_the_device_hour_and_reports_the_difference(point):
    device_hour = ReadingRow(
        point_id=point.pk, kind=ReadingKind.HOUR, code="w01018", data_time=T0, avg=30.0, flag="N"
    )
    store_readings([*minute_rows(point, 45), device_hour])

    result = rollup_point_hours(point=point, start=T0, end=T0 + HOUR)

    assert result.written == 0
    assert result.differences == [Difference("w01018", T0, "avg", 23.0, 30.0)]
    hour = Reading.objects.get(kind=ReadingKind.HOUR)
    assert (hour.avg, hour.source) == (30.0, ReadingSource.DEVICE)


def test_rollup_point_days_uses_hours_of_the_local_day(point):
    hour_rows = [
        ReadingRow(
            point_id=point.pk,
            kind=ReadingKind.HOUR,
            code="w01018",
            data_time=LOCAL_MAY_2 + i * HOUR,
            avg=float(i),
            source=ReadingSource.DEVICE if i % 2 else ReadingSource.COMPUTED,
        )
        for i in range(21)
    ]
    store_readings(hour_rows)

    result = rollup_point_days(point=point, start=LOCAL_MAY_2, end=LOCAL_MAY_2 + timedelta(days=1))

    assert result.written == 1
    day = Reading.objects.get(kind=ReadingKind.DAY)
    assert (day.data_time, day.avg, day.min, day.max) == (LOCAL_MAY_2, 10.0, 0.0, 20.0)
    assert day.source == ReadingSource.COMPUTED


def test_rollup_readings_command_rolls_up_hours_then_days(point):
    # 20 local hours of 45 valid minutes each on 2 May (local).
    rows = [row for h in range(20) for row in minute_rows(point, 45, start=LOCAL_MAY_2 + h * HOUR)]
    store_readings(rows)
    point.last_data_time = LOCAL_MAY_2 + 20 * HOUR
    point.save(update_fields=["last_data_time"])

    with frozen(LOCAL_MAY_2 + timedelta(days=1, hours=1)):
        call_command("rollup_readings", "--since=2024-05-02", stdout=StringIO())

    assert (
        Reading.objects.filter(kind=ReadingKind.HOUR, source=ReadingSource.COMPUTED).count() == 20
    )
    day = Reading.objects.get(kind=ReadingKind.DAY)
    assert (day.data_time, day.avg, day.cou) == (LOCAL_MAY_2, 23.0, 225.0)
