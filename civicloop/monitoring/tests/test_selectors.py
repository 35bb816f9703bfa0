from __future__ import annotations

from datetime import timedelta

from civicloop.lib.clock import frozen
from civicloop.monitoring.models import ReadingKind, ReadingSource
from civicloop.monitoring.selectors import hourly_series, latest_readings, readings_for
from civicloop.monitoring.tests.conftest import T0
from civicloop.monitoring.writer import ReadingRow, store_readings

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def row(point, kind, code, at, value, source=ReadingSource.DEVICE) -> ReadingRow:
    return ReadingRow(
        point_id=point.pk, kind=kind, code=code, data_time=at, avg=value, rtd=value, source=source
    )


def test_readings_for_is_one_code_kind_and_half_open_period_oldest_first(point, make_point):
    other = make_point()
    store_readings(
        [
            row(point, ReadingKind.MINUTE, "w01018", T0 + i * MINUTE, float(i))
            for i in (3, 0, 2, 1, 4)
        ]
        + [
            row(point, ReadingKind.MINUTE, "w21003", T0, 9.0),
            row(point, ReadingKind.HOUR, "w01018", T0, 9.0),
            row(other, ReadingKind.MINUTE, "w01018", T0, 9.0),
        ]
    )

    readings = readings_for(point, "w01018", ReadingKind.MINUTE, T0 + MINUTE, T0 + 4 * MINUTE)

    assert [r.avg for r in readings] == [1.0, 2.0, 3.0]


def test_latest_readings_gives_the_newest_value_of_each_code(point):
    store_readings(
        [
            row(point, ReadingKind.REALTIME, "w01018", T0, 1.0),
            row(point, ReadingKind.REALTIME, "w01018", T0 + 30 * MINUTE, 2.0),
            row(point, ReadingKind.REALTIME, "w21003", T0 + 10 * MINUTE, 3.0),
            row(point, ReadingKind.REALTIME, "w00000", T0 - 3 * HOUR, 4.0),  # outside the window
            row(point, ReadingKind.MINUTE, "w01018", T0 + 40 * MINUTE, 5.0),  # another kind
        ]
    )

    latest = latest_readings(point)

    assert [(r.code, r.rtd, r.data_time) for r in latest] == [
        ("w01018", 2.0, T0 + 30 * MINUTE),
        ("w21003", 3.0, T0 + 10 * MINUTE),
    ]
    assert [r.code for r in latest_readings(point, window=timedelta(hours=4))] == [
        "w00000",
        "w01018",
        "w21003",
    ]


def test_latest_readings_of_a_silent_point_is_empty(point):
    assert latest_readings(point) == []


def test_hourly_series_covers_the_last_days_with_both_sources(point):
    now = T0 + 10 * timedelta(days=1) + 30 * MINUTE
    store_readings(
        [
            row(point, ReadingKind.HOUR, "w01018", now - timedelta(days=3), 1.0),
            row(
                point,
                ReadingKind.HOUR,
                "w01018",
                now - timedelta(days=2),
                2.0,
                ReadingSource.COMPUTED,
            ),
            row(point, ReadingKind.HOUR, "w01018", now - timedelta(days=8), 3.0),  # too old
            row(point, ReadingKind.HOUR, "w21003", now - timedelta(days=1), 4.0),  # other code
            row(point, ReadingKind.HOUR, "w01018", now - 30 * MINUTE, 5.0),  # the current hour
        ]
    )

    with frozen(now):
        series = hourly_series(point, "w01018", days=7)

    assert [(r.avg, r.source) for r in series] == [
        (1.0, ReadingSource.DEVICE),
        (2.0, ReadingSource.COMPUTED),
        (5.0, ReadingSource.DEVICE),
    ]
