"""Output shapes of the environmental data-sharing API (and their builders)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from civicloop.environment import aqi
from civicloop.environment.models import Alert, AlertKind, Enterprise, Permit, StationAqi
from civicloop.environment.profiles import OutletProfile, PollutantLine
from civicloop.environment.reports import MonthReport


class EnterpriseOut(Schema):
    uscc: str = Field(description="统一社会信用代码")
    name: str
    legal_representative: str
    industry_code: str = Field(description="GB/T 4754 行业代码")
    industry_name: str
    address: str
    latitude: float
    longitude: float
    town_code: str
    town: str
    management_category: str = Field(
        description="key 重点管理 / simplified 简化管理 / registration 登记管理"
    )

    @staticmethod
    def of(enterprise: Enterprise) -> EnterpriseOut:
        return EnterpriseOut(
            uscc=enterprise.uscc,
            name=enterprise.name,
            legal_representative=enterprise.legal_representative,
            industry_code=enterprise.industry_code,
            industry_name=enterprise.industry_name,
            address=enterprise.address,
            latitude=enterprise.latitude,
            longitude=enterprise.longitude,
            town_code=enterprise.town.code,
            town=enterprise.town.name,
            management_category=enterprise.management_category,
        )


class PermitOut(Schema):
    number: str
    version: int
    issued_on: date
    valid_from: date
    valid_to: date
    authority: str


class LimitOut(Schema):
    code: str = Field(description="HJ 212—2017 污染物编码")
    name: str
    unit: str
    limit: str = Field(description="今日执行的限值，如 ≤100 或 6～9")
    high: float | None
    low: float | None
    judged_on: str = Field(description="hour 小时均值 / day 日均值")
    basis: str
    standard: str
    is_main: bool
    hourly_limit: float | None
    daily_limit: float | None
    rate_limit_kg_h: float | None
    annual_limit_t: float | None

    @staticmethod
    def of(line: PollutantLine) -> LimitOut:
        return LimitOut(
            code=line.code,
            name=line.name,
            unit=line.unit,
            limit=line.limit_text,
            high=line.high,
            low=line.low,
            judged_on=line.period,
            basis=line.basis,
            standard=line.standard_text,
            is_main=line.is_main,
            hourly_limit=line.hourly_limit,
            daily_limit=line.daily_limit,
            rate_limit_kg_h=line.rate_limit_kg_h,
            annual_limit_t=line.annual_limit_t,
        )


class OutletOut(Schema):
    id: int
    code: str
    name: str
    medium: str
    outlet_class: str
    is_organised: bool
    discharge_mode: str
    discharge_pattern: str
    destination: str
    receiving_body: str
    latitude: float
    longitude: float
    stack_height_m: float | None
    mn: str | None = Field(description="在线监测数采仪 MN；未联网为空")
    limits: list[LimitOut]

    @staticmethod
    def of(profile: OutletProfile) -> OutletOut:
        outlet = profile.outlet
        point = outlet.monitoring_point
        return OutletOut(
            id=outlet.pk,
            code=outlet.code,
            name=outlet.name,
            medium=outlet.medium,
            outlet_class=outlet.outlet_class,
            is_organised=outlet.is_organised,
            discharge_mode=outlet.mode_label,
            discharge_pattern=str(outlet.get_discharge_pattern_display()),
            destination=outlet.destination,
            receiving_body=outlet.receiving_body,
            latitude=outlet.latitude,
            longitude=outlet.longitude,
            stack_height_m=outlet.stack_height_m,
            mn=point.mn if point else None,
            limits=[LimitOut.of(line) for line in profile.lines],
        )


class EnterpriseDetailOut(EnterpriseOut):
    permit: PermitOut | None
    outlets: list[OutletOut]

    @staticmethod
    def detail(
        enterprise: Enterprise, permit: Permit | None, profiles: list[OutletProfile]
    ) -> EnterpriseDetailOut:
        base = EnterpriseOut.of(enterprise).model_dump()
        permit_out = PermitOut.model_validate(permit, from_attributes=True) if permit else None
        return EnterpriseDetailOut(
            **base, permit=permit_out, outlets=[OutletOut.of(p) for p in profiles]
        )


class ValueOut(Schema):
    time: datetime = Field(description="时段开始（小时或日），UTC")
    value: float | None
    corrected: float | None = Field(description="折算值（ZsAvg）")
    flag: str


class SeriesOut(Schema):
    outlet_id: int
    code: str
    kind: str
    values: list[ValueOut]


class AlertOut(Schema):
    id: int
    enterprise_uscc: str
    outlet_code: str
    kind: str
    kind_label: str
    code: str
    pollutant: str
    status: str
    first_start: datetime
    last_end: datetime
    periods: int
    max_consecutive: int
    worst_value: float | None
    unit: str
    limit: str
    basis: str
    is_persistent: bool
    case_number: str | None
    case_state: str | None

    @staticmethod
    def of(alert: Alert) -> AlertOut:
        case = alert.case
        return AlertOut(
            id=alert.pk,
            enterprise_uscc=alert.outlet.enterprise.uscc,
            outlet_code=alert.outlet.code,
            kind=alert.kind,
            kind_label=str(AlertKind(alert.kind).label),
            code=alert.code,
            pollutant=alert.pollutant_name,
            status=alert.status,
            first_start=alert.first_start,
            last_end=alert.last_end,
            periods=alert.periods,
            max_consecutive=alert.max_consecutive,
            worst_value=alert.worst_value,
            unit=alert.unit,
            limit=alert.limit_text,
            basis=alert.basis,
            is_persistent=alert.is_persistent,
            case_number=case.number if case else None,
            case_state=case.state if case else None,
        )


class StationAqiOut(Schema):
    start: datetime
    period: str
    edition: str
    aqi: int | None
    level: str | None
    category: str | None
    colour: str | None
    primary: list[str]
    iaqi: dict[str, Any]
    concentrations: dict[str, Any]
    publishable: bool

    @staticmethod
    def of(row: StationAqi) -> StationAqiOut:
        level = aqi.level_for(row.aqi) if row.aqi is not None else None
        return StationAqiOut(
            start=row.start,
            period=row.period,
            edition=row.edition,
            aqi=row.aqi,
            level=level.name if level else None,
            category=level.category if level else None,
            colour=level.colour if level else None,
            primary=list(row.primary),
            iaqi=dict(row.iaqi),
            concentrations=dict(row.concentrations),
            publishable=row.publishable,
        )


class StationOut(Schema):
    mn: str
    name: str
    latitude: float | None
    longitude: float | None
    rank: int | None
    latest: StationAqiOut | None


class DayOut(Schema):
    day: date
    mean: float | None
    max: float | None
    min: float | None
    hours: int
    exceeded: bool


class PollutantMonthOut(Schema):
    code: str
    name: str
    unit: str
    limit: str
    judged_on: str
    valid_days: int
    mean: float | None
    max: float | None
    exceed_days: int
    exceed_hours: int
    days: list[DayOut]


class OutletMonthOut(Schema):
    code: str
    name: str
    pollutants: list[PollutantMonthOut]
    alerts: list[AlertOut]


class StationDayOut(Schema):
    day: date
    aqi: int | None


class StationMonthOut(Schema):
    mn: str
    name: str
    distance_km: float
    mean_aqi: float | None
    days: list[StationDayOut]


class MonthReportOut(Schema):
    uscc: str
    month: str
    outlets: list[OutletMonthOut]
    stations: list[StationMonthOut]

    @staticmethod
    def of(report: MonthReport) -> MonthReportOut:
        return MonthReportOut(
            uscc=report.enterprise.uscc,
            month=f"{report.month:%Y-%m}",
            outlets=[
                OutletMonthOut(
                    code=om.outlet.code,
                    name=om.outlet.name,
                    pollutants=[_pollutant_month(p) for p in om.pollutants],
                    alerts=[AlertOut.of(a) for a in om.alerts],
                )
                for om in report.outlets
            ],
            stations=[
                StationMonthOut(
                    mn=sm.station.mn,
                    name=sm.station.name,
                    distance_km=round(sm.distance_km, 3),
                    mean_aqi=sm.mean_aqi,
                    days=[StationDayOut(day=d, aqi=row.aqi if row else None) for d, row in sm.days],
                )
                for sm in report.stations
            ],
        )


def _pollutant_month(p: Any) -> PollutantMonthOut:
    return PollutantMonthOut(
        code=p.line.code,
        name=p.line.name,
        unit=p.line.unit,
        limit=p.line.limit_text,
        judged_on=p.line.period,
        valid_days=len(p.valid_days),
        mean=p.mean,
        max=p.high,
        exceed_days=p.exceed_days,
        exceed_hours=p.exceed_hours,
        days=[
            DayOut(
                day=d.day, mean=d.mean, max=d.high, min=d.low, hours=d.hours, exceeded=d.exceeded
            )
            for d in p.days
        ],
    )
