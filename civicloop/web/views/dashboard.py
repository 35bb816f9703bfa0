"""The KPI dashboard (考核看板): charts by area, unit, category and over time, each number
drilling down to its cases, and the reports as CSV or XLSX."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from civicloop.accounts.selectors import has_centre_role
from civicloop.cases import kpis
from civicloop.cases.kpi_export import to_csv, to_xlsx
from civicloop.cases.selectors import case_queryset_for
from civicloop.lib import clock
from civicloop.lib.errors import Forbidden
from civicloop.web import dashboard, selectors
from civicloop.web.forms import DashboardForm, DrillForm
from civicloop.web.views.common import page_of, query_without, user_of


def _scope(request: HttpRequest) -> kpis.Scope:
    """What the user may evaluate; nothing at all is "not found"."""
    try:
        return kpis.scope_for(user_of(request))
    except Forbidden as e:
        raise Http404 from e


def _query(
    request: HttpRequest, scope: kpis.Scope
) -> tuple[DashboardForm, dashboard.DashboardQuery]:
    area = min(scope.regions, key=lambda r: r.path.count("/"), default=None)
    today = clock.local_date(clock.now())
    defaults = {
        "role": "region" if has_centre_role(user_of(request)) else "unit",
        "period": kpis.PeriodKind.MONTH.value,
        "date": today.isoformat(),
    }
    # The form shows what is evaluated: the defaults where the address says nothing.
    data = {**defaults, **{k: v for k, v in request.GET.items() if v}}
    form = DashboardForm(data, regions=selectors.filter_regions(area))
    return form, form.query(defaults["role"], today)


@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    form, query = _query(request, scope)
    context = {
        "form": form,
        "query": query,
        "charts": dashboard.charts(scope, query),
        "export_query": query_without(request, "format", "chart"),
    }
    return render(request, "web/dashboard.html", context)


@login_required
@require_GET
def cases(request: HttpRequest) -> HttpResponse:
    """The cases behind one number, limited to those the user may open."""
    scope = _scope(request)
    _form, query = _query(request, scope)
    drill = DrillForm(request.GET)
    if not drill.is_valid():
        raise Http404
    data = drill.cleaned_data
    [indicator] = kpis.indicators_for([data["indicator"]])
    found = kpis.drilldown(
        scope=scope,
        period=query.period,
        indicator=indicator,
        part=kpis.Part(data["part"]),
        group_by=kpis.Dimension(data["group_by"]),
        key=data["key"] or None,
        filters=query.filters,
    )
    visible = found.filter(pk__in=case_queryset_for(user_of(request)).values("pk"))
    context = {
        "indicator": indicator,
        "part": data["part"],
        "period": query.period,
        "page": page_of(request, visible),
        "page_query": query_without(request, "page"),
    }
    return render(request, "web/dashboard_cases.html", context)


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    _form, query = _query(request, scope)
    report = dashboard.export_report(scope, query, request.GET.get("chart", "area"))
    name = f"kpis-{query.role}-{report.group_by.value}-{report.period.label}"
    if request.GET.get("format") == "csv":
        response = HttpResponse(to_csv(report), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    response = HttpResponse(
        to_xlsx(report),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response
