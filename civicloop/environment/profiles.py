"""What an outlet "is" under its permit: pollutants, limits, the standard applied, monitoring.

Shared by the scanned page, the label sheet, the month report and the data-sharing API, so the
same permit text is shown everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from civicloop.environment.limits import LimitBook
from civicloop.environment.models import (
    MonitoringRequirement,
    Outlet,
    Permit,
    PermitLimit,
)
from civicloop.environment.services import current_permit


@dataclass(frozen=True)
class SpecialLine:
    name: str
    starts_on: date
    ends_on: date
    limit: float | None


@dataclass(frozen=True)
class PollutantLine:
    code: str
    name: str
    unit: str
    limit_text: str  # the limit in force today, e.g. "≤100" or "6～9"
    high: float | None
    low: float | None
    period: str  # "hour" or "day"
    reference_o2: float | None
    basis: str
    standard_text: str
    is_main: bool
    hourly_limit: float | None
    daily_limit: float | None
    promised_limit: float | None
    rate_limit_kg_h: float | None
    annual_limit_t: float | None
    specials: list[SpecialLine] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)  # HJ 212—2017 code and the 2005 one


@dataclass(frozen=True)
class OutletProfile:
    outlet: Outlet
    permit: Permit | None
    lines: list[PollutantLine]
    monitoring: list[MonitoringRequirement]

    @property
    def main_pollutants(self) -> list[str]:
        return [line.name for line in self.lines if line.is_main]

    @property
    def standards(self) -> list[str]:
        return sorted({line.standard_text for line in self.lines if line.standard_text})


def _line(limit: PermitLimit, on: date, book: LimitBook) -> PollutantLine:
    effective = book.effective(limit, on=on)
    cell = book.cell(limit, on=on)
    standard_text = f"{cell.edition.code} {cell.table} {cell.grade}".strip() if cell else ""
    if not standard_text and limit.standard is not None:
        standard_text = f"{limit.standard.number} {limit.standard_grade}".strip()
    if not standard_text:
        # A standard the library does not carry, as the permit names it.
        standard_text = limit.standard_grade
    return PollutantLine(
        code=limit.pollutant.code,
        name=limit.pollutant.name,
        unit=limit.unit,
        limit_text=effective.rule.describe() if effective.is_set else "",
        high=effective.high,
        low=effective.low,
        period=effective.period,
        reference_o2=effective.reference_o2,
        basis=effective.basis,
        standard_text=standard_text,
        is_main=limit.is_main,
        hourly_limit=limit.hourly_limit,
        daily_limit=limit.daily_limit,
        promised_limit=limit.promised_limit,
        rate_limit_kg_h=limit.rate_limit_kg_h,
        annual_limit_t=limit.annual_limit_t,
        specials=[
            SpecialLine(s.name, s.starts_on, s.ends_on, s.concentration_limit)
            for s in limit.special_periods.all()
        ],
        codes=limit.pollutant.codes,
    )


_CURRENT = object()


def outlet_profile(
    outlet: Outlet,
    *,
    on: date,
    book: LimitBook | None = None,
    permit: Permit | object | None = _CURRENT,
    with_monitoring: bool = True,
) -> OutletProfile:
    """The outlet under `permit` (default: the enterprise's permit in force on `on`)."""
    book = book or LimitBook()
    if permit is _CURRENT:
        permit = current_permit(outlet.enterprise, on)
    if not isinstance(permit, Permit):
        return OutletProfile(outlet, None, [], [])
    limits = (
        PermitLimit.objects.filter(permit=permit, outlet=outlet)
        .select_related("pollutant", "permit", "standard", "outlet")
        .prefetch_related("special_periods")
        .order_by("-is_main", "pollutant__code")
    )
    monitoring = (
        list(
            MonitoringRequirement.objects.filter(permit=permit, outlet=outlet).select_related(
                "pollutant"
            )
        )
        if with_monitoring
        else []
    )
    return OutletProfile(outlet, permit, [_line(limit, on, book) for limit in limits], monitoring)
