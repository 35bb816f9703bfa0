"""The KPI dashboard: the reports of `civicloop.cases.kpis`, shaped into charts and tables whose
every number links to the cases behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from civicloop.cases import kpis
from civicloop.cases.kpis import Dimension, Indicator, KpiFilters, Period, PeriodKind, Scope
from civicloop.lib.clock import SHANGHAI
from civicloop.regions.models import Level

# The evaluation objects of GB/T 30428.4 (kpis.ROLE_INDICATORS) as the page names them.
OBJECTS: list[tuple[str, Promise]] = [
    ("region", _("区域")),
    ("unit", _("责任单位")),
    ("grid_worker", _("网格员")),
    ("dispatcher", _("派遣员")),
    ("hotline", _("12345热线")),
]
PERIODS: list[tuple[str, Promise]] = [
    (PeriodKind.DAY, _("日")),
    (PeriodKind.WEEK, _("周")),
    (PeriodKind.MONTH, _("月")),
    (PeriodKind.QUARTER, _("季度")),
    (PeriodKind.YEAR, _("年")),
]
TREND_PERIODS = 6


@dataclass(frozen=True)
class DashboardQuery:
    role: str
    kind: PeriodKind
    day: date
    filters: KpiFilters

    @property
    def period(self) -> Period:
        return kpis.period_of(self.kind, self.day)

    def params(self, **extra: Any) -> dict[str, Any]:
        base = {
            "role": self.role,
            "period": self.kind.value,
            "date": self.day.isoformat(),
            "region": self.filters.region or "",
            "source": self.filters.source or "",
        }
        return {key: value for key, value in {**base, **extra}.items() if value not in ("", None)}


@dataclass(frozen=True)
class Cell:
    value: kpis.Value
    numerator_url: str
    denominator_url: str

    @property
    def percent(self) -> float | None:
        rate = self.value.rate
        return None if rate is None else round(rate * 100, 1)


@dataclass(frozen=True)
class ChartRow:
    label: str
    cells: list[Cell]


@dataclass(frozen=True)
class Chart:
    key: str
    title: Promise
    kind: str  # "bar" or "line"
    indicators: list[Indicator]
    rows: list[ChartRow]

    def data(self) -> dict[str, Any]:
        """What dashboard.js draws: one series per indicator, rates in per cent."""
        series = [
            {
                "name": str(indicator.name),
                "values": [row.cells[i].percent for row in self.rows],
                "counts": [
                    f"{row.cells[i].value.numerator}/{row.cells[i].value.denominator}"
                    for row in self.rows
                ],
                "links": [row.cells[i].numerator_url for row in self.rows],
            }
            for i, indicator in enumerate(self.indicators)
        ]
        return {"type": self.kind, "labels": [r.label for r in self.rows], "series": series}


def area_dimension(scope: Scope) -> Dimension:
    """Towns for a city-wide scope; villages when the user's areas are towns or below."""
    if scope.everything or any(r.level == Level.CITY for r in scope.regions):
        return Dimension.TOWN
    return Dimension.VILLAGE if scope.regions else Dimension.TOWN


def drill_url(
    query: DashboardQuery,
    indicator: Indicator,
    part: kpis.Part,
    group_by: Dimension,
    key: Any,
    day: date | None = None,
) -> str:
    params = query.params(
        indicator=indicator.code, part=part.value, group_by=group_by.value, key=key
    )
    if day is not None:
        params["date"] = day.isoformat()
    return f"{reverse('web:dashboard-cases')}?{urlencode(params)}"


def _row(
    query: DashboardQuery,
    indicators: list[Indicator],
    row: kpis.Row,
    group_by: Dimension,
    day: date | None = None,
) -> ChartRow:
    empty = kpis.Value(0, 0)
    cells = [
        Cell(
            row.values.get(i.code, empty),
            drill_url(query, i, kpis.Part.NUMERATOR, group_by, row.key, day),
            drill_url(query, i, kpis.Part.DENOMINATOR, group_by, row.key, day),
        )
        for i in indicators
    ]
    return ChartRow(row.label, cells)


def grouped_chart(
    scope: Scope, query: DashboardQuery, key: str, title: Promise, group_by: Dimension
) -> Chart:
    indicators = kpis.indicators_for(role=query.role)
    report = kpis.compute(
        scope=scope,
        period=query.period,
        indicators=indicators,
        group_by=group_by,
        filters=query.filters,
    )
    rows = [_row(query, indicators, row, group_by) for row in report.rows]
    return Chart(key, title, "bar", indicators, rows)


def trend_chart(scope: Scope, query: DashboardQuery) -> Chart:
    """The same indicators over the last periods, oldest first."""
    indicators = kpis.indicators_for(role=query.role)
    periods = [query.period]
    while len(periods) < TREND_PERIODS:
        before = periods[-1].start.astimezone(SHANGHAI).date() - timedelta(days=1)
        periods.append(kpis.period_of(query.kind, before))
    rows = []
    for period in reversed(periods):
        report = kpis.compute(
            scope=scope, period=period, indicators=indicators, filters=query.filters
        )
        total = report.rows[0] if report.rows else kpis.Row(key=None, label="")
        day = period.start.astimezone(SHANGHAI).date()
        chart_row = _row(query, indicators, total, Dimension.NONE, day)
        rows.append(ChartRow(period.label, chart_row.cells))
    return Chart("trend", _("趋势"), "line", indicators, rows)


def charts(scope: Scope, query: DashboardQuery) -> list[Chart]:
    area = area_dimension(scope)
    area_title = _("按镇街") if area == Dimension.TOWN else _("按村社")
    return [
        grouped_chart(scope, query, "area", area_title, area),
        grouped_chart(scope, query, "org", _("按责任单位"), Dimension.ORG),
        grouped_chart(scope, query, "category", _("按分类（大类）"), Dimension.MAJOR),
        trend_chart(scope, query),
    ]


EXPORT_DIMENSIONS = {
    "area": None,  # resolved per user by area_dimension
    "org": Dimension.ORG,
    "category": Dimension.MAJOR,
}


def export_report(scope: Scope, query: DashboardQuery, chart_key: str) -> kpis.Report:
    group_by = EXPORT_DIMENSIONS.get(chart_key) or area_dimension(scope)
    return kpis.compute(
        scope=scope,
        period=query.period,
        indicators=kpis.indicators_for(role=query.role),
        group_by=group_by,
        filters=query.filters,
    )
