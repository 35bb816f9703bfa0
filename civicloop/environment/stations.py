"""Micro air stations: hourly (real-time) and daily AQI from stored hourly values, ranking.

A micro station is a monitoring point of kind 大气微型站 sending SO2, NO2, CO, O3, PM10 and
PM2.5 (HJ 212 codes a21026, a21004, a21005, a05024, a34002, a34004; µg/m³, CO mg/m³).
The AQI is computed by aqi.py with the HJ 633 edition in force on the data's local day and
stored with that edition (StationAqi). Micro-sensor stations are not reference methods
(GB 3095 §5.3): pages call their AQI indicative.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Max, QuerySet

from civicloop.environment import aqi, errors
from civicloop.environment.models import AqiPeriod, StationAqi
from civicloop.environment.standards import aqi_edition_for
from civicloop.lib import clock
from civicloop.monitoring.models import (
    MonitoringPoint,
    PointKind,
    PointStatus,
    Reading,
    ReadingKind,
)
from civicloop.monitoring.rollups import LOCAL_TZ, day_start, hour_start, is_valid_flag

CODES = {
    "a21026": "so2",
    "a21004": "no2",
    "a21005": "co",
    "a05024": "o3",
    "a34002": "pm10",
    "a34004": "pm25",
}
HOUR = timedelta(hours=1)
DAYS_BACK = 2  # closed local days recomputed on every pass (late data)


def stations() -> QuerySet[MonitoringPoint]:
    return MonitoringPoint.objects.filter(kind=PointKind.AMBIENT_MICRO_STATION).exclude(
        status=PointStatus.DISABLED
    )


def get_station(mn: str) -> MonitoringPoint:
    station = stations().filter(mn=mn).select_related("region").first()
    if station is None:
        raise errors.station_not_found()
    return station


Hours = dict[datetime, dict[str, float]]


def _hourly_values(point: MonitoringPoint, start: datetime, end: datetime) -> Hours:
    hours: Hours = defaultdict(dict)
    rows = Reading.objects.filter(
        point=point,
        kind=ReadingKind.HOUR,
        code__in=list(CODES),
        data_time__gte=start,
        data_time__lt=end,
    ).values_list("code", "data_time", "avg", "flag")
    for code, at, value, flag in rows:
        if value is not None and is_valid_flag(flag):
            hours[at][CODES[code]] = value
    return hours


def _so2_24h(hours: Hours, at: datetime) -> float | None:
    values = [v["so2"] for t, v in hours.items() if at - 23 * HOUR <= t <= at and "so2" in v]
    return sum(values) / len(values) if len(values) >= aqi.MIN_HOURS_PER_DAY else None


class Editions:
    """The HJ 633 edition per local day, asked of the library once per day."""

    def __init__(self) -> None:
        self._by_day: dict[date, aqi.Edition] = {}

    def __call__(self, day: date) -> aqi.Edition:
        if day not in self._by_day:
            self._by_day[day] = aqi_edition_for(day)
        return self._by_day[day]


def hourly_results(hours: Hours, editions: Editions) -> dict[datetime, aqi.AqiResult]:
    results = {}
    for at, values in hours.items():
        edition = editions(at.astimezone(LOCAL_TZ).date())
        # The 24-hour SO2 mean only matters for the 2012 rule above 800 µg/m³.
        so2_24h = _so2_24h(hours, at) if values.get("so2", 0) > 800 else None
        results[at] = aqi.hourly_aqi(edition, values, so2_24h=so2_24h)
    return results


def daily_result(hours: Hours, day: date, editions: Editions) -> aqi.AqiResult | None:
    start = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    by_key: dict[str, list[float | None]] = {key: [] for key in CODES.values()}
    for index in range(24):
        values = hours.get(start + index * HOUR, {})
        for key in by_key:
            by_key[key].append(values.get(key))
    inputs = aqi.daily_concentrations(by_key)
    if all(value is None for value in inputs.values()):
        return None
    return aqi.daily_aqi(editions(day), inputs)


@dataclass
class StationSummary:
    stations: int = 0
    hours: int = 0
    days: int = 0


def station_aqi_refresh(
    *, now: datetime | None = None, days_back: int = DAYS_BACK
) -> StationSummary:
    """Compute and store the AQI of every station for recent hours and closed days."""
    now = now or clock.now()
    summary = StationSummary()
    editions = Editions()
    today = day_start(now)
    start = today - timedelta(days=days_back)
    for point in stations().order_by("pk"):
        hours = _hourly_values(point, start - 23 * HOUR, hour_start(now) + HOUR)
        recent = {at: r for at, r in hourly_results(hours, editions).items() if at >= start}
        summary.stations += 1
        summary.hours += _store(point, AqiPeriod.HOUR, recent, now)
        summary.days += _store(point, AqiPeriod.DAY, _days(hours, today, days_back, editions), now)
    return summary


def _days(
    hours: Hours, today: datetime, days_back: int, editions: Editions
) -> dict[datetime, aqi.AqiResult]:
    days = {}
    for offset in range(days_back, 0, -1):
        start = today - timedelta(days=offset)
        result = daily_result(hours, start.astimezone(LOCAL_TZ).date(), editions)
        if result is not None:
            days[start] = result
    return days


@transaction.atomic
def _store(
    point: MonitoringPoint, period: str, results: dict[datetime, aqi.AqiResult], now: datetime
) -> int:
    """Upsert; returns how many rows were written (unchanged rows are left alone)."""
    existing = {
        row.start: row
        for row in StationAqi.objects.filter(point=point, period=period, start__in=list(results))
    }
    new: list[StationAqi] = []
    changed: list[StationAqi] = []
    for start, result in results.items():
        row = existing.get(start) or StationAqi(point=point, period=period, start=start)
        if _apply(row, result, now):
            (changed if row.pk else new).append(row)
    StationAqi.objects.bulk_create(new)
    StationAqi.objects.bulk_update(changed, _FIELDS)
    return len(new) + len(changed)


_FIELDS = [
    "edition",
    "aqi",
    "level",
    "primary",
    "iaqi",
    "concentrations",
    "publishable",
    "computed_at",
]


def _apply(row: StationAqi, result: aqi.AqiResult, now: datetime) -> bool:
    values = {
        "edition": str(result.edition),
        "aqi": result.aqi,
        "level": result.level.number if result.level else None,
        "primary": list(result.primary),
        "iaqi": result.iaqi,
        "concentrations": result.concentrations,
        "publishable": result.publishable,
    }
    if row.pk and all(getattr(row, name) == value for name, value in values.items()):
        return False
    for name, value in values.items():
        setattr(row, name, value)
    row.computed_at = now
    return True


# ---------------------------------------------------------------- reading the results


@dataclass(frozen=True)
class StationRank:
    rank: int | None
    station: MonitoringPoint
    row: StationAqi | None

    @property
    def level(self) -> aqi.Level | None:
        return aqi.level_for(self.row.aqi) if self.row and self.row.aqi is not None else None


def latest_start(period: str) -> datetime | None:
    latest: datetime | None = StationAqi.objects.filter(period=period).aggregate(
        latest=Max("start")
    )["latest"]
    return latest


def ranking(
    period: str = AqiPeriod.HOUR, at: datetime | None = None
) -> tuple[datetime | None, list[StationRank]]:
    """Every station for the latest computed hour (or day), best AQI first."""
    at = at or latest_start(period)
    points = list(stations().order_by("mn"))
    rows = {}
    if at is not None:
        rows = {
            row.point_id: row
            for row in StationAqi.objects.filter(period=period, start=at, publishable=True)
        }
    ranked = aqi.rank_by_aqi((str(p.pk), rows[p.pk].aqi if p.pk in rows else None) for p in points)
    by_id = {str(p.pk): p for p in points}
    return at, [StationRank(r.rank, by_id[r.key], rows.get(int(r.key))) for r in ranked]


def station_history(
    point: MonitoringPoint, period: str, start: datetime, end: datetime
) -> QuerySet[StationAqi]:
    return StationAqi.objects.filter(
        point=point, period=period, start__gte=start, start__lt=end
    ).order_by("start")
