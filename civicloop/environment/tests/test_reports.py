"""The enterprise month report: daily values, exceedances, alerts, nearest micro stations."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from civicloop.environment.models import AqiPeriod, StationAqi
from civicloop.environment.reports import distance_km, month_report, nearest_stations, parse_month
from civicloop.environment.tests.conftest import Env, feed
from civicloop.lib.clock import SHANGHAI
from civicloop.lib.errors import DomainError
from civicloop.monitoring.models import ReadingKind

pytestmark = pytest.mark.django_db
OCT = datetime(2026, 10, 1, tzinfo=SHANGHAI)


def test_parse_month() -> None:
    assert parse_month("2026-10", today=date(2026, 11, 20)) == date(2026, 10, 1)
    assert parse_month("", today=date(2026, 1, 5)) == date(2026, 1, 1)
    with pytest.raises(DomainError) as info:
        parse_month("10/2026", today=date(2026, 11, 20))
    assert info.value.code == "month_invalid"


def test_daily_values_need_twenty_valid_hours_and_count_exceedances(env: Env) -> None:
    # 1 Oct: 24 hours of COD 250 → a daily mean above the permitted 200 (water: days).
    feed(env.water, "w01018", [250.0] * 24, start=OCT)
    # 2 Oct: only 19 valid hours (5 flagged D) → no daily value.
    feed(env.water, "w01018", [90.0] * 19, start=OCT + timedelta(days=1))
    feed(env.water, "w01018", [300.0] * 5, start=OCT + timedelta(days=1, hours=19), flag="D")
    # 3 Oct: the device's own daily value wins over the hours.
    feed(env.water, "w01018", [150.0] * 24, start=OCT + timedelta(days=2))
    feed(env.water, "w01018", [99.0], start=OCT + timedelta(days=2), kind=ReadingKind.DAY)
    # NOx: 2 hours above the gas-boiler limit of 200 (air: hours).
    feed(env.air, "a21002", [80.0] * 22 + [230.0, 240.0], start=OCT)

    report = month_report(env.enterprise, date(2026, 10, 1))

    assert len(report.days) == 31
    water = next(o for o in report.outlets if o.outlet == env.water)
    cod = next(p for p in water.pollutants if p.line.code == "w01018")
    assert [d.mean for d in cod.days[:3]] == [250.0, None, 99.0]
    assert cod.days[0].hours == 24 and cod.days[1].hours == 19
    assert (cod.exceed_days, cod.exceed_hours) == (1, 0)
    air = next(o for o in report.outlets if o.outlet == env.air)
    nox = air.pollutants[0]
    assert nox.exceed_hours == 2
    assert nox.days[0].exceeded and nox.days[0].high == 240.0
    assert nox.line.limit_text == "≤200"


def test_nearest_micro_stations_with_their_daily_aqi(env: Env) -> None:
    StationAqi.objects.create(
        point=env.station,
        period=AqiPeriod.DAY,
        start=OCT,
        edition="HJ633-2026",
        aqi=62,
        level=2,
        concentrations={"pm25": "30", "pm10": "70"},
        computed_at=OCT,
    )
    near = nearest_stations(env.enterprise.latitude, env.enterprise.longitude)
    assert [s for s, _d in near] == [env.station]
    report = month_report(env.enterprise, date(2026, 10, 1))
    station = report.stations[0]
    assert station.days[0][1] is not None and station.days[0][1].aqi == 62
    assert station.mean_aqi == 62
    assert station.level_days["良"] == 1
    assert station.mean_of("pm25") == 30.0


def test_distance() -> None:
    # One hundredth of a degree of latitude is about 1.11 km.
    assert distance_km(29.30, 120.07, 29.31, 120.07) == pytest.approx(1.112, abs=0.001)
