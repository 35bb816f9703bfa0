"""The enterprise month report: "the last month of water and air data" — every outlet's daily
values and exceedances, the alerts of the month, and the nearest micro air stations.

Daily values come from the valid hourly values of the local day (≥ 20 hours, GB 3095 表4 /
HJ 75), aggregated in the database; a daily value the device sent itself wins (HJ 212 CN 2031).
Flue-gas values with a reference O2 use the corrected value (ZsAvg) when the device sends it.
Exceedances are counted on what each limit is judged on: hours for air outlets and pH, days for
water outlets.
"""

from __future__ import annotations

import math
from calendar import monthrange
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Avg, Case, Count, F, FloatField, Max, Min, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDay
from django.utils.translation import gettext as _

from civicloop.environment import aqi, errors
from civicloop.environment.errors import Code
from civicloop.environment.limits import LimitBook
from civicloop.environment.models import Alert, AqiPeriod, Enterprise, Outlet, StationAqi
from civicloop.environment.profiles import OutletProfile, PollutantLine, outlet_profile
from civicloop.environment.services import current_permit
from civicloop.environment.stations import stations
from civicloop.monitoring.models import MonitoringPoint, Reading, ReadingKind
from civicloop.monitoring.rollups import LOCAL_TZ, MIN_VALID_HOURS_PER_DAY, VALID_FLAGS

NEAREST_STATIONS = 3
STATION_RADIUS_KM = 5.0
_FLAGS = sorted(VALID_FLAGS | {flag.lower() for flag in VALID_FLAGS})


def parse_month(text: str | None, *, today: date) -> date:
    """ "2026-10" → 2026-10-01; empty → the current month (to date)."""
    if not text:
        return today.replace(day=1)
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError as exc:
        raise errors.invalid(Code.MONTH_INVALID, _("月份格式应为 YYYY-MM")) from exc


@dataclass(frozen=True)
class DayValue:
    day: date
    mean: float | None
    high: float | None
    low: float | None
    hours: int
    exceeded: bool = False


@dataclass(frozen=True)
class PollutantMonth:
    line: PollutantLine
    days: list[DayValue]
    exceed_hours: int

    @property
    def valid_days(self) -> list[DayValue]:
        return [d for d in self.days if d.mean is not None]

    @property
    def mean(self) -> float | None:
        values = [d.mean for d in self.valid_days if d.mean is not None]
        return sum(values) / len(values) if values else None

    @property
    def high(self) -> float | None:
        values = [d.high for d in self.days if d.high is not None]
        return max(values) if values else None

    @property
    def exceed_days(self) -> int:
        return sum(d.exceeded for d in self.days)


@dataclass(frozen=True)
class OutletMonth:
    outlet: Outlet
    profile: OutletProfile
    pollutants: list[PollutantMonth]
    alerts: list[Alert]


@dataclass(frozen=True)
class StationMonth:
    station: MonitoringPoint
    distance_km: float
    days: list[tuple[date, StationAqi | None]]

    @property
    def mean_aqi(self) -> float | None:
        values = [row.aqi for _day, row in self.days if row and row.aqi is not None]
        return sum(values) / len(values) if values else None

    @property
    def level_days(self) -> dict[str, int]:
        counts: dict[str, int] = {level.category: 0 for level in aqi.LEVELS}
        for _day, row in self.days:
            if row and row.aqi is not None:
                counts[aqi.level_for(row.aqi).category] += 1
        return counts

    @property
    def pm25_mean(self) -> float | None:
        return self.mean_of("pm25")

    @property
    def pm10_mean(self) -> float | None:
        return self.mean_of("pm10")

    def mean_of(self, key: str) -> float | None:
        values = [
            float(row.concentrations[key])
            for _day, row in self.days
            if row and row.concentrations.get(key) is not None
        ]
        return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class MonthReport:
    enterprise: Enterprise
    month: date
    days: list[date]
    outlets: list[OutletMonth]
    stations: list[StationMonth] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return _local_midnight(self.month)


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)


def month_days(month: date) -> list[date]:
    return [month.replace(day=n) for n in range(1, monthrange(month.year, month.month)[1] + 1)]


def month_report(enterprise: Enterprise, month: date) -> MonthReport:
    days = month_days(month)
    start, end = _local_midnight(days[0]), _local_midnight(days[-1]) + timedelta(days=1)
    outlets = list(
        enterprise.outlets.filter(is_active=True).select_related("monitoring_point", "enterprise")
    )
    book = LimitBook()
    permit = current_permit(enterprise, days[-1])
    profiles = {
        o.pk: outlet_profile(o, on=days[-1], book=book, permit=permit, with_monitoring=False)
        for o in outlets
    }
    daily = _daily_values(outlets, profiles, start, end)
    alerts = _alerts(outlets, start, end)
    result = []
    for outlet in outlets:
        profile = profiles[outlet.pk]
        pollutants = [
            _pollutant_month(line, days, daily.get((outlet.monitoring_point_id, line.code), {}))
            for line in profile.lines
        ]
        result.append(OutletMonth(outlet, profile, pollutants, alerts.get(outlet.pk, [])))
    return MonthReport(enterprise, month, days, result, _stations(enterprise, days, start, end))


# ---------------------------------------------------------------- outlets


def _value_expression(o2_codes: list[str]) -> Case:
    corrected = Coalesce(F("zs_avg"), F("avg"), output_field=FloatField())
    return Case(
        When(code__in=o2_codes, then=corrected), default=F("avg"), output_field=FloatField()
    )


def _exceed_expression(lines: dict[str, PollutantLine]) -> Sum:
    whens = []
    for code, line in lines.items():
        if line.period != "hour" or (line.high is None and line.low is None):
            continue
        beyond = Q(pk__in=[])
        if line.high is not None:
            beyond |= Q(v__gt=line.high)
        if line.low is not None:
            beyond |= Q(v__lt=line.low)
        whens.append(When(Q(code=code) & beyond, then=Value(1)))
    return Sum(Case(*whens, default=Value(0)))


Daily = dict[tuple[int | None, str], dict[date, dict[str, Any]]]


def _daily_values(
    outlets: list[Outlet], profiles: dict[int, OutletProfile], start: datetime, end: datetime
) -> Daily:
    """Per (point, code, local day): mean, max, min, valid hours, exceeding hours."""
    lines = {line.code: line for p in profiles.values() for line in p.lines}
    points = [o.monitoring_point_id for o in outlets if o.monitoring_point_id]
    if not points or not lines:
        return {}
    o2_codes = [line.code for line in lines.values() if line.reference_o2 is not None]
    value = _value_expression(o2_codes)
    rows = (
        Reading.objects.filter(
            point_id__in=points,
            kind=ReadingKind.HOUR,
            code__in=list(lines),
            data_time__gte=start,
            data_time__lt=end,
            flag__in=_FLAGS,
        )
        .annotate(v=value, day=TruncDay("data_time", tzinfo=LOCAL_TZ))
        .values("point_id", "code", "day")
        .annotate(
            mean=Avg("v"), high=Max("v"), low=Min("v"), n=Count("v"), over=_exceed_expression(lines)
        )
    )
    daily: Daily = defaultdict(dict)
    for row in rows:
        daily[(row["point_id"], row["code"])][_as_date(row["day"])] = row
    _device_days(daily, points, list(lines), start, end)
    return daily


def _as_date(value: date | datetime) -> date:
    return value.astimezone(LOCAL_TZ).date() if isinstance(value, datetime) else value


def _device_days(
    daily: Daily, points: list[int], codes: list[str], start: datetime, end: datetime
) -> None:
    """Daily values the device (or the rollup worker) stored replace the computed mean."""
    rows = Reading.objects.filter(
        point_id__in=points,
        kind=ReadingKind.DAY,
        code__in=codes,
        data_time__gte=start,
        data_time__lt=end,
        flag__in=_FLAGS,
    ).values_list("point_id", "code", "data_time", "avg", "zs_avg", "max", "min")
    for point_id, code, at, avg, zs_avg, high, low in rows:
        entry = daily[(point_id, code)].setdefault(_as_date(at), {"n": 0, "over": 0})
        entry["mean"] = zs_avg if zs_avg is not None else avg
        entry["device"] = True
        entry.setdefault("high", high)
        entry.setdefault("low", low)


def _pollutant_month(
    line: PollutantLine, days: list[date], values: dict[date, dict[str, Any]]
) -> PollutantMonth:
    result = []
    for day in days:
        row = values.get(day)
        if row is None:
            result.append(DayValue(day, None, None, None, 0))
            continue
        complete = row.get("device") or row["n"] >= MIN_VALID_HOURS_PER_DAY
        mean = row["mean"] if complete else None
        result.append(
            DayValue(
                day, mean, row.get("high"), row.get("low"), row["n"], _exceeds(line, mean, row)
            )
        )
    return PollutantMonth(line, result, sum(values[d].get("over") or 0 for d in values))


def _exceeds(line: PollutantLine, mean: float | None, row: dict[str, Any]) -> bool:
    if line.period == "hour":
        return bool(row.get("over"))
    if mean is None:
        return False
    return (line.high is not None and mean > line.high) or (
        line.low is not None and mean < line.low
    )


def _alerts(outlets: list[Outlet], start: datetime, end: datetime) -> dict[int, list[Alert]]:
    found: dict[int, list[Alert]] = defaultdict(list)
    rows = Alert.objects.filter(
        outlet__in=outlets, first_start__lt=end, last_end__gt=start
    ).select_related("case")
    for alert in rows.order_by("first_start"):
        found[alert.outlet_id].append(alert)
    return found


# ---------------------------------------------------------------- micro stations


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) on a 6,371 km sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def nearest_stations(
    lat: float, lon: float, *, count: int = NEAREST_STATIONS, radius_km: float = STATION_RADIUS_KM
) -> list[tuple[MonitoringPoint, float]]:
    located = stations().filter(latitude__isnull=False, longitude__isnull=False)
    distances = [
        (station, distance_km(lat, lon, station.latitude, station.longitude))
        for station in located
        if station.latitude is not None and station.longitude is not None
    ]
    near = sorted((d for d in distances if d[1] <= radius_km), key=lambda d: d[1])
    return near[:count]


def _stations(
    enterprise: Enterprise, days: list[date], start: datetime, end: datetime
) -> list[StationMonth]:
    near = nearest_stations(enterprise.latitude, enterprise.longitude)
    rows = StationAqi.objects.filter(
        point__in=[s for s, _d in near], period=AqiPeriod.DAY, start__gte=start, start__lt=end
    )
    by_key = {(row.point_id, _as_date(row.start)): row for row in rows}
    return [
        StationMonth(station, distance, [(day, by_key.get((station.pk, day))) for day in days])
        for station, distance in near
    ]
