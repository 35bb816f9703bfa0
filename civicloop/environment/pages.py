"""What the pages show: context builders for the outlet, enterprise and station pages.

The public part of the outlet page is what the national permit platform publishes (unit,
permit number and validity, outlets, pollutants, limits, standards, self-monitoring plan) plus
the monitoring data the enterprise must disclose. Inspectors also get the permit copy (副本
content and scan), monitoring details (MN, device state, latest raw values with flags), and
the alert and case history.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils.translation import gettext as _

from civicloop.environment import aqi, qr, stations
from civicloop.environment.models import (
    Alert,
    AlertStatus,
    AqiPeriod,
    Enterprise,
    Outlet,
    Permit,
    StationAqi,
)
from civicloop.environment.profiles import OutletProfile, PollutantLine, outlet_profile
from civicloop.environment.reports import nearest_stations
from civicloop.environment.services import current_permit
from civicloop.monitoring.models import MonitoringPoint, Reading, ReadingKind
from civicloop.monitoring.rollups import LOCAL_TZ, is_valid_flag
from civicloop.monitoring.selectors import latest_readings
from civicloop.regions.models import Level, Region

CHART_DAYS = 30
ONLINE_WITHIN = timedelta(minutes=30)


@dataclass(frozen=True)
class LineStatus:
    line: PollutantLine
    value: float | None
    at: datetime | None
    exceeded: bool


def _hourly_rows(point: MonitoringPoint, codes: list[str], start: datetime, end: datetime) -> Any:
    return (
        Reading.objects.filter(
            point=point,
            kind=ReadingKind.HOUR,
            code__in=codes,
            data_time__gte=start,
            data_time__lt=end,
        )
        .order_by("data_time")
        .values_list("code", "data_time", "avg", "zs_avg", "flag")
    )


def chart_data(profile: OutletProfile, *, now: datetime) -> dict[str, Any]:
    """Hourly values of the last 30 days per pollutant, with its limit lines (ECharts)."""
    point = profile.outlet.monitoring_point
    series: dict[str, list[list[Any]]] = defaultdict(list)
    if point is not None and profile.lines:
        codes = {code: line for line in profile.lines for code in line.codes}
        rows = _hourly_rows(point, list(codes), now - timedelta(days=CHART_DAYS), now)
        for code, at, avg, zs_avg, flag in rows:
            line = codes[code]
            value = zs_avg if line.reference_o2 is not None and zs_avg is not None else avg
            if value is not None and is_valid_flag(flag):
                series[line.code].append([at.astimezone(LOCAL_TZ).isoformat(), round(value, 3)])
    return {
        "series": [
            {
                "code": line.code,
                "name": line.name,
                "unit": line.unit,
                "high": line.high,
                "low": line.low,
                "period": line.period,
                "points": series.get(line.code, []),
            }
            for line in profile.lines
        ]
    }


def line_statuses(profile: OutletProfile, chart: dict[str, Any]) -> list[LineStatus]:
    statuses = []
    for line, item in zip(profile.lines, chart["series"], strict=True):
        last = item["points"][-1] if item["points"] else None
        value = last[1] if last else None
        at = datetime.fromisoformat(last[0]) if last else None
        beyond = value is not None and (
            (line.high is not None and value > line.high)
            or (line.low is not None and value < line.low)
        )
        statuses.append(LineStatus(line, value, at, beyond and line.period == "hour"))
    return statuses


def overall_status(outlet: Outlet, statuses: list[LineStatus], *, now: datetime) -> tuple[str, str]:
    """(tone, text) of the outlet now."""
    point = outlet.monitoring_point
    if point is None:
        return "off", _("未接入在线监测")
    if point.last_seen_at is None or now - point.last_seen_at > ONLINE_WITHIN:
        return "wait", _("设备离线")
    if any(s.exceeded for s in statuses):
        return "urgent", _("最近小时值超标")
    if all(s.value is None for s in statuses):
        return "off", _("暂无数据")
    return "done", _("在线 · 最近小时值达标")


def outlet_context(outlet: Outlet, *, inspector: bool, now: datetime) -> dict[str, Any]:
    profile = outlet_profile(outlet, on=now.astimezone(LOCAL_TZ).date())
    chart = chart_data(profile, now=now)
    statuses = line_statuses(profile, chart)
    tone, status = overall_status(outlet, statuses, now=now)
    context: dict[str, Any] = {
        "outlet": outlet,
        "enterprise": outlet.enterprise,
        "profile": profile,
        "permit": profile.permit,
        "statuses": statuses,
        "status": status,
        "tone": tone,
        "chart": chart,
        "inspector": inspector,
        "now": now,
    }
    if inspector:
        context.update(_inspector_extras(outlet))
    return context


def _inspector_extras(outlet: Outlet) -> dict[str, Any]:
    point = outlet.monitoring_point
    alerts = Alert.objects.filter(outlet=outlet).select_related("case").order_by("-created_at")
    return {
        "point": point,
        "latest": latest_readings(point) if point else [],
        "latest_hour": latest_readings(point, kind=ReadingKind.HOUR) if point else [],
        "alerts": list(alerts[:50]),
        "open_alerts": sum(a.status == AlertStatus.OPEN for a in alerts[:50]),
        "qr_url": qr.outlet_url(outlet),
        "qr_svg": qr.qr_svg(qr.outlet_url(outlet), scale=4),
        "officer": outlet.enterprise.environmental_officer,
    }


def enterprise_context(enterprise: Enterprise, *, now: datetime) -> dict[str, Any]:
    today = now.astimezone(LOCAL_TZ).date()
    outlets = list(enterprise.outlets.select_related("monitoring_point").order_by("code"))
    profiles = [outlet_profile(o, on=today) for o in outlets]
    alerts = (
        Alert.objects.filter(outlet__enterprise=enterprise)
        .select_related("outlet", "case")
        .order_by("-created_at")
    )
    near = nearest_stations(enterprise.latitude, enterprise.longitude)
    latest = _latest_station_rows([s for s, _d in near])
    return {
        "enterprise": enterprise,
        "permit": current_permit(enterprise, today),
        "permits": list(Permit.objects.filter(enterprise=enterprise).order_by("-version")),
        "profiles": profiles,
        "alerts": list(alerts[:30]),
        "stations": [(s, d, latest.get(s.pk)) for s, d in near],
        "now": now,
    }


def _latest_station_rows(points: list[MonitoringPoint]) -> dict[int, StationAqi]:
    at = stations.latest_start(AqiPeriod.HOUR)
    if at is None:
        return {}
    rows = StationAqi.objects.filter(point__in=points, period=AqiPeriod.HOUR, start=at)
    return {row.point_id: row for row in rows}


def station_marker(rank: stations.StationRank) -> dict[str, Any]:
    station, row, level = rank.station, rank.row, rank.level
    return {
        "mn": station.mn,
        "name": station.name,
        "lat": station.latitude,
        "lon": station.longitude,
        "aqi": row.aqi if row else None,
        "category": level.category if level else "",
        "colour": level.colour if level else "#9ca3af",
        "url": f"{station.mn}/",
    }


def stations_context(period: str) -> dict[str, Any]:
    at, ranked = stations.ranking(period)
    return {
        "period": period,
        "at": at,
        "ranked": ranked,
        "markers": [station_marker(r) for r in ranked if r.station.latitude is not None],
        "levels": aqi.LEVELS,
        "towns": {
            "type": "FeatureCollection",
            "features": [
                town.as_feature()
                for town in Region.objects.filter(level=Level.TOWN, boundary__isnull=False)
            ],
        },
    }


def station_context(station: MonitoringPoint, *, now: datetime, days: int) -> dict[str, Any]:
    hours = list(stations.station_history(station, AqiPeriod.HOUR, now - timedelta(days=days), now))
    daily = list(stations.station_history(station, AqiPeriod.DAY, now - timedelta(days=30), now))
    latest = hours[-1] if hours else None
    return {
        "station": station,
        "latest": latest,
        "level": aqi.level_for(latest.aqi) if latest and latest.aqi is not None else None,
        "items": [
            (aqi.NAMES[key], value, latest.concentrations.get(key))
            for key, value in latest.iaqi.items()
        ]
        if latest
        else [],
        "daily": daily,
        "chart": {
            "points": [[row.start.astimezone(LOCAL_TZ).isoformat(), row.aqi] for row in hours],
            "levels": [[level.low, level.colour, level.category] for level in aqi.LEVELS],
        },
    }
