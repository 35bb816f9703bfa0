"""Micro stations: stored hourly and daily AQI (edition by date), ranking; two sweep workers."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import close_old_connections, connection

from civicloop.environment import aqi
from civicloop.environment.models import Alert, AqiPeriod, StationAqi
from civicloop.environment.stations import ranking, station_aqi_refresh
from civicloop.environment.sweep import sweep_outlets
from civicloop.environment.tests.conftest import HOUR, NOW, Env, feed, feed_normal_hours, point
from civicloop.lib.clock import SHANGHAI
from civicloop.monitoring.models import PointKind
from civicloop.monitoring.rollups import day_start

CODES = {
    "a21026": 8.0,
    "a21004": 30.0,
    "a21005": 0.6,
    "a05024": 90.0,
    "a34002": 70.0,
    "a34004": 45.0,
}


def feed_station(station, start: datetime, hours: int, *, pm25: float = 45.0) -> None:
    for code, value in CODES.items():
        feed(station, code, [pm25 if code == "a34004" else value] * hours, start=start)


@pytest.mark.django_db
def test_hourly_and_daily_aqi_are_stored_with_the_edition(env: Env) -> None:
    yesterday = day_start(NOW) - timedelta(days=1)
    feed_station(env.station, yesterday, 24 + 10)

    summary = station_aqi_refresh(now=NOW)

    hourly = StationAqi.objects.filter(point=env.station, period=AqiPeriod.HOUR)
    assert summary.hours == hourly.count() == 34
    row = hourly.get(start=yesterday + 3 * HOUR)
    expected = aqi.hourly_aqi(
        aqi.Edition.HJ633_2026, {"so2": 8, "no2": 30, "co": 0.6, "o3": 90, "pm10": 70, "pm25": 45}
    )
    assert (row.aqi, row.edition, row.primary) == (
        expected.aqi,
        "HJ633-2026",
        list(expected.primary),
    )
    daily = StationAqi.objects.get(point=env.station, period=AqiPeriod.DAY)
    assert daily.start == yesterday
    assert (
        daily.aqi
        == aqi.daily_aqi(
            aqi.Edition.HJ633_2026,
            {"so2": 8, "no2": 30, "co": 0.6, "o3_8h": 90, "pm10": 70, "pm25": 45},
        ).aqi
    )
    assert summary.days == 1
    again = station_aqi_refresh(now=NOW)
    assert (again.hours, again.days) == (0, 0)  # unchanged rows are left alone


@pytest.mark.django_db
def test_data_before_march_2026_uses_hj633_2012(env: Env) -> None:
    start = datetime(2026, 2, 27, 0, tzinfo=SHANGHAI)
    feed_station(env.station, start, 24, pm25=75.0)
    station_aqi_refresh(now=datetime(2026, 2, 28, 10, tzinfo=SHANGHAI), days_back=1)
    row = StationAqi.objects.get(point=env.station, period=AqiPeriod.DAY)
    assert row.edition == "HJ633-2012"
    assert row.iaqi["pm25"] == 100  # 2026 would give 114


@pytest.mark.django_db
def test_ranking_best_first(env: Env) -> None:
    other = point("33078200AQ0000000000MS02", PointKind.AMBIENT_MICRO_STATION, "第二站", st="22")
    third = point("33078200AQ0000000000MS03", PointKind.AMBIENT_MICRO_STATION, "第三站", st="22")
    start = NOW.replace(minute=0) - 2 * HOUR
    feed_station(env.station, start, 2, pm25=80)
    feed_station(other, start, 2, pm25=20)
    station_aqi_refresh(now=NOW)
    at, ranked = ranking(AqiPeriod.HOUR)
    assert at == start + HOUR
    assert [(r.rank, r.station.name) for r in ranked] == [
        (1, "第二站"),
        (2, "孝子祠 微型站"),
        (None, "第三站"),
    ]
    assert ranked[0].level is not None and ranked[0].level.category == "良"
    assert ranked[2].station == third and ranked[2].row is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweep_workers_open_one_alert_and_one_case(env: Env) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
    feed_normal_hours(env)
    point_ = env.air_point
    point_.last_seen_at = NOW - timedelta(hours=3)
    point_.save(update_fields=["last_seen_at"])
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            sweep_outlets(now=NOW)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    alerts = list(Alert.objects.filter(kind="offline"))
    assert len(alerts) == 1 and alerts[0].case is not None
