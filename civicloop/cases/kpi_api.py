"""KPI endpoints: reports, drill-down to the cases behind a number, CSV/XLSX export.

No `from __future__ import annotations` here: ninja reads the parameter annotations at runtime.
"""

from datetime import date, datetime

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from civicloop.accounts.models import User
from civicloop.cases import kpis, selectors
from civicloop.cases.kpi_export import to_csv, to_xlsx
from civicloop.cases.models import Case
from civicloop.lib.errors import Invalid

router = Router(tags=["kpis"])


class KpiQuery(Schema):
    period: kpis.PeriodKind = kpis.PeriodKind.MONTH
    date: date
    group_by: kpis.Dimension = kpis.Dimension.NONE
    indicators: list[str] = []
    role: str | None = None
    region: str | None = None
    org: str | None = None
    category: str | None = None
    source: str | None = None


class DrillQuery(KpiQuery):
    indicator: str
    part: kpis.Part = kpis.Part.NUMERATOR
    key: str | None = None


class ExportQuery(KpiQuery):
    format: str = "xlsx"


class PeriodOut(Schema):
    kind: str
    label: str
    start: datetime
    end: datetime


class IndicatorOut(Schema):
    code: str
    name: str
    formula: str


class ValueOut(Schema):
    numerator: int
    denominator: int
    rate: float | None


class RowOut(Schema):
    key: str | None
    label: str
    values: dict[str, ValueOut]


class ReportOut(Schema):
    period: PeriodOut
    group_by: str
    indicators: list[IndicatorOut]
    rows: list[RowOut]


class KpiCaseOut(Schema):
    number: str
    state: str
    category: str
    town: str | None
    assigned_org: str | None
    reported_at: datetime
    due_at: datetime | None
    disposed_at: datetime | None
    closed_at: datetime | None
    on_time: bool | None
    rework_count: int


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _report(request: HttpRequest, query: KpiQuery) -> kpis.Report:
    return kpis.compute(
        scope=kpis.scope_for(_user(request)),
        period=kpis.period_of(query.period, query.date),
        indicators=kpis.indicators_for(query.indicators or None, query.role),
        group_by=query.group_by,
        filters=_filters(query),
    )


def _filters(query: KpiQuery) -> kpis.KpiFilters:
    filters = kpis.KpiFilters(
        region=query.region, org=query.org, category=query.category, source=query.source
    )
    filters.check()
    return filters


def _indicator_out(indicator: kpis.Indicator) -> IndicatorOut:
    return IndicatorOut(
        code=indicator.code, name=str(indicator.name), formula=str(indicator.formula)
    )


@router.get("/kpis/indicators", response=list[IndicatorOut])
def list_indicators(request: HttpRequest) -> list[IndicatorOut]:
    return [_indicator_out(i) for i in kpis.INDICATORS.values()]


@router.get("/kpis", response=ReportOut)
def kpi_report(request: HttpRequest, query: Query[KpiQuery]) -> ReportOut:
    report = _report(request, query)
    period = report.period
    return ReportOut(
        period=PeriodOut(kind=period.kind, label=period.label, start=period.start, end=period.end),
        group_by=report.group_by,
        indicators=[_indicator_out(i) for i in report.indicators],
        rows=[
            RowOut(
                key=None if row.key is None else str(row.key),
                label=row.label,
                values={
                    code: ValueOut(numerator=v.numerator, denominator=v.denominator, rate=v.rate)
                    for code, v in row.values.items()
                },
            )
            for row in report.rows
        ],
    )


@router.get("/kpis/cases", response=list[KpiCaseOut])
@paginate(LimitOffsetPagination)
def kpi_cases(request: HttpRequest, query: Query[DrillQuery]) -> list[KpiCaseOut]:
    """The cases behind one number (its numerator or denominator), for appeals (复核)."""
    user = _user(request)
    [indicator] = kpis.indicators_for([query.indicator])
    cases = kpis.drilldown(
        scope=kpis.scope_for(user),
        period=kpis.period_of(query.period, query.date),
        indicator=indicator,
        part=query.part,
        group_by=query.group_by,
        key=query.key,
        filters=_filters(query),
    )
    # Never more than the user may open.
    visible = cases.filter(pk__in=selectors.case_queryset_for(user).values("pk"))
    return _Page(visible)  # type: ignore[return-value]


class _Page:
    """Lets the paginator slice the queryset before rows become schemas."""

    def __init__(self, cases: object) -> None:
        self.cases = cases

    def __len__(self) -> int:
        return int(self.cases.count())  # type: ignore[attr-defined]

    def count(self) -> int:
        return len(self)

    def __getitem__(self, item: slice) -> list[KpiCaseOut]:
        return [_case_out(c) for c in self.cases[item]]  # type: ignore[index]


def _case_out(case: Case) -> KpiCaseOut:
    return KpiCaseOut(
        number=case.number,
        state=case.state,
        category=case.category.full_code,
        town=case.town.name if case.town else None,
        assigned_org=case.assigned_org.name if case.assigned_org else None,
        reported_at=case.reported_at,
        due_at=case.due_at,
        disposed_at=case.disposed_at,
        closed_at=case.closed_at,
        on_time=case.on_time,
        rework_count=case.rework_count,
    )


@router.get("/kpis/export")
def kpi_export(request: HttpRequest, query: Query[ExportQuery]) -> HttpResponse:
    if query.format not in ("csv", "xlsx"):
        raise Invalid("kpi_format_invalid", str(_("导出格式只能是 csv 或 xlsx")))
    report = _report(request, query)
    name = f"kpis-{report.period.label}"
    if query.format == "csv":
        response = HttpResponse(to_csv(report), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    response = HttpResponse(
        to_xlsx(report),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response
