"""Run the rules over one outlet's recent data: series from stored readings, the limit in
force for each day, and the abnormal-data detectors. Read-only; alerts.py writes.

Lookback: hourly values of the last 36 hours (enough for the 24-change jump window, 12-hour
constant runs and the 8-hour flag window), daily values of the last 8 local days (the
"2 days within 7" rule). The sweep runs every few minutes, so every finding is seen many times;
alerts.py deduplicates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from civicloop.environment import rules
from civicloop.environment.limits import EffectiveLimit, LimitBook, judging_period
from civicloop.environment.models import Medium, Outlet, PermitLimit
from civicloop.monitoring.models import MonitoringPoint, PointStatus, Reading, ReadingKind
from civicloop.monitoring.rollups import day_start, hour_start

HOURS_BACK = 36
DAYS_BACK = 8
MISSING_HOURS_BACK = 24
O2_CODES = ("a19001", "S01")
FLOW_CODES = ("w00000", "B01")


@dataclass(frozen=True)
class Observation:
    """A finding with what an alert needs to explain itself."""

    finding: rules.Finding
    step: timedelta
    pollutant_name: str = ""
    unit: str = ""
    limit: EffectiveLimit | None = None
    persistent: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Row:
    value: float | None
    corrected: float | None
    flag: str


Series = dict[str, dict[datetime, _Row]]


def _load(
    point_ids: list[int], kind: int, start: datetime, end: datetime, codes: list[str]
) -> dict[int, Series]:
    """Values of several points in one query (one partition range, the period index)."""
    by_point: dict[int, Series] = defaultdict(lambda: defaultdict(dict))
    rows = Reading.objects.filter(
        point_id__in=point_ids, kind=kind, code__in=codes, data_time__gte=start, data_time__lt=end
    ).values_list("point_id", "code", "data_time", "avg", "zs_avg", "flag")
    for point_id, code, at, avg, zs_avg, flag in rows:
        by_point[point_id][code][at] = _Row(avg, zs_avg, flag)
    return by_point


def _merge_codes(series: Series, codes: Sequence[str]) -> dict[datetime, _Row]:
    """One factor's values, whether the device sends the 2017 or the 2005 code."""
    merged: dict[datetime, _Row] = {}
    for code in reversed(codes):
        merged.update(series.get(code, {}))
    return merged


def _samples(
    rows: dict[datetime, _Row], o2: dict[datetime, _Row], ref_o2: float | None
) -> list[rules.Sample]:
    samples = []
    for at in sorted(rows):
        row = rows[at]
        samples.append(rules.Sample(at, _corrected(row, o2.get(at), ref_o2), row.flag))
    return samples


def _corrected(row: _Row, o2: _Row | None, ref_o2: float | None) -> float | None:
    """The value compared with a flue-gas limit: the device's corrected value (ZsAvg), else the
    measured value corrected to the reference O2 (GB 13271 formula 1), else as measured."""
    if ref_o2 is None or row.value is None:
        return row.value
    if row.corrected is not None:
        return row.corrected
    if o2 is not None and o2.value is not None:
        return rules.o2_corrected(row.value, o2.value, ref_o2)
    return row.value


@dataclass
class OutletData:
    hours: Series
    days: Series


def load_outlets_data(
    outlets: Sequence[Outlet], limits: dict[int, list[PermitLimit]], *, now: datetime
) -> dict[int, OutletData]:
    """The recent hourly and daily values of many outlets: two queries in all."""
    points = [o.monitoring_point_id for o in outlets if o.monitoring_point_id]
    codes = {code for o in outlets for lim in limits.get(o.pk, []) for code in lim.pollutant.codes}
    code_list = sorted(codes | {*O2_CODES, *FLOW_CODES})
    hour_end = hour_start(now) + rules.HOUR
    hour_start_ = hour_end - timedelta(hours=HOURS_BACK)
    hours = _load(points, ReadingKind.HOUR, hour_start_, hour_end, code_list)
    day_end = day_start(now) + rules.DAY
    days = _load(points, ReadingKind.DAY, day_end - timedelta(days=DAYS_BACK), day_end, code_list)
    return {
        o.pk: OutletData(
            hours.get(o.monitoring_point_id or 0, {}), days.get(o.monitoring_point_id or 0, {})
        )
        for o in outlets
    }


def observe_outlet(
    outlet: Outlet,
    limits: Sequence[PermitLimit],
    *,
    now: datetime,
    book: LimitBook,
    thresholds: rules.Thresholds = rules.DEFAULT_THRESHOLDS,
    data: OutletData | None = None,
) -> list[Observation]:
    """Every finding of the outlet's recent data (not yet deduplicated)."""
    point = outlet.monitoring_point
    if point is None or point.status == PointStatus.DISABLED:
        return []
    if data is None:
        data = load_outlets_data([outlet], {outlet.pk: list(limits)}, now=now)[outlet.pk]
    observations = _point_level(point, data, now=now, thresholds=thresholds)
    context = _Context(
        outlet, data, _merge_codes(data.hours, O2_CODES), _merge_codes(data.hours, FLOW_CODES)
    )
    for limit in limits:
        observations += _pollutant_level(context, limit, now, book, thresholds)
    return observations


@dataclass(frozen=True)
class _Context:
    outlet: Outlet
    data: OutletData
    o2: dict[datetime, _Row]
    flow: dict[datetime, _Row]


def _pollutant_level(
    context: _Context,
    limit: PermitLimit,
    now: datetime,
    book: LimitBook,
    thresholds: rules.Thresholds,
) -> list[Observation]:
    pollutant = limit.pollutant
    ref_o2 = book.effective(limit, on=rules.local_day(now)).reference_o2
    hourly = _samples(_merge_codes(context.data.hours, pollutant.codes), context.o2, ref_o2)
    found = _exceedance(limit, context.data, hourly, book, thresholds)
    found += _abnormal(context, pollutant.code, hourly, thresholds)
    found = _without_explained_jumps(found)
    return [replace(o, pollutant_name=pollutant.name, unit=limit.unit) for o in found]


def _without_explained_jumps(found: list[Observation]) -> list[Observation]:
    """A jump into or out of an exceedance, a constant run or another finding of the same
    factor is explained by it: one alert (and one case) is enough."""
    others = [o.finding for o in found if o.finding.kind != rules.FindingKind.JUMP]

    def explained(jump: rules.Finding) -> bool:
        return any(other.start - rules.HOUR <= jump.start <= other.end for other in others)

    return [
        o for o in found if o.finding.kind != rules.FindingKind.JUMP or not explained(o.finding)
    ]


def _exceedance(
    limit: PermitLimit,
    data: OutletData,
    hourly: list[rules.Sample],
    book: LimitBook,
    thresholds: rules.Thresholds,
) -> list[Observation]:
    by_day: dict[date, EffectiveLimit] = {}

    def effective(at: datetime) -> EffectiveLimit:
        day = rules.local_day(at)
        if day not in by_day:
            by_day[day] = book.effective(limit, on=day)
        return by_day[day]

    def limit_at(at: datetime) -> rules.Limit | None:
        current = effective(at)
        return current.rule if current.is_set else None

    if judging_period(limit) == "hour":
        samples, step = hourly, rules.HOUR
    else:
        samples = _samples(_merge_codes(data.days, limit.pollutant.codes), {}, None)
        step = rules.DAY
    findings = rules.exceedances(limit.pollutant.code, samples, limit_at, step=step)
    persistent = rules.is_persistent(findings, step=step, thresholds=thresholds)
    return [
        Observation(
            f,
            step,
            limit=effective(f.start),
            persistent=persistent,
            evidence=_series_evidence(samples, f, step),
        )
        for f in findings
    ]


def _series_evidence(
    samples: Sequence[rules.Sample], finding: rules.Finding, step: timedelta
) -> dict[str, Any]:
    return {"series": rules.evidence(samples, finding, step=step), "step": _step_name(step)}


def _step_name(step: timedelta) -> str:
    return "hour" if step == rules.HOUR else "day"


def _abnormal(
    context: _Context, code: str, hourly: list[rules.Sample], thresholds: rules.Thresholds
) -> list[Observation]:
    step = rules.HOUR
    running = None
    if context.flow:
        running = [_flowing(context.flow.get(s.start)) for s in hourly]
    constant_hours = (
        thresholds.constant_hours_water
        if context.outlet.medium == Medium.WATER
        else thresholds.constant_hours_air
    )
    findings = [
        *rules.negatives(code, hourly, step=step),
        *rules.zeros(code, hourly, step=step, running=running, thresholds=thresholds),
        *rules.constants(code, hourly, step=step, min_count=constant_hours, thresholds=thresholds),
        *rules.jumps(code, hourly, step=step, thresholds=thresholds),
        *rules.over_range(code, hourly, step=step),
        *rules.out_of_service(code, hourly, step=step, thresholds=thresholds),
    ]
    return [Observation(f, step, evidence=_series_evidence(hourly, f, step)) for f in findings]


def _flowing(row: _Row | None) -> bool:
    return row is not None and row.value is not None and row.value > 0


def _point_level(
    point: MonitoringPoint, data: OutletData, *, now: datetime, thresholds: rules.Thresholds
) -> list[Observation]:
    """Offline, else missing hours: a silent device explains its missing hours (one case)."""
    since = hour_start(now) - timedelta(hours=MISSING_HOURS_BACK)
    silent = rules.offline(point.last_seen_at, now=now, since=since, thresholds=thresholds)
    if silent is not None:
        seen = point.last_seen_at.isoformat() if point.last_seen_at else None
        data_time = point.last_data_time.isoformat() if point.last_data_time else None
        evidence = {"last_seen_at": seen, "last_data_time": data_time}
        return [Observation(silent, rules.HOUR, evidence=evidence)]
    present = {at for rows in data.hours.values() for at in rows if at >= since}
    return [
        Observation(f, rules.HOUR, evidence={"present": sorted(t.isoformat() for t in present)})
        for f in rules.missing_hours(present, since=since, now=now, thresholds=thresholds)
    ]
