"""Pages: the scanned outlet page (public, signed URL), the inspectors' enterprise pages, label
sheet, month report and exports, alerts, and the micro-station ranking and map.

Every protected read goes through selectors.py; outside the caller's scope is 404.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import storages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from civicloop.accounts.models import User
from civicloop.environment import qr, selectors, stations
from civicloop.environment.exports import report_csv, report_xlsx
from civicloop.environment.labels import label_sheet
from civicloop.environment.models import (
    AlertStatus,
    AqiPeriod,
    Enterprise,
    ManagementCategory,
    Outlet,
    Permit,
)
from civicloop.environment.pages import (
    enterprise_context,
    outlet_context,
    station_context,
    stations_context,
)
from civicloop.environment.reports import month_report, parse_month
from civicloop.lib import clock
from civicloop.lib.errors import DomainError, NotFound
from civicloop.regions.models import Level, Region

PAGE_SIZE = 30
View = Callable[..., HttpResponse | FileResponse]


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def not_found_as_404(view: View) -> View:
    """Domain "not found" (outside the caller's scope) becomes a plain 404 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse | FileResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper


def _enterprise(request: HttpRequest, uscc: str) -> Enterprise:
    return selectors.get_enterprise_for_user(_user(request), uscc)


# ---------------------------------------------------------------- public: the scanned page


@require_GET
def scan(request: HttpRequest, token: str) -> HttpResponse:
    outlet = qr.outlet_from_token(token)
    if outlet is None:
        raise Http404(_("二维码无效或已停用"))
    user = request.user
    inspector = (
        isinstance(user, User) and selectors.outlet_queryset_for(user).filter(pk=outlet.pk).exists()
    )
    context = outlet_context(outlet, inspector=inspector, now=clock.now())
    return render(request, "environment/outlet.html", context)


# ---------------------------------------------------------------- inspectors


@login_required
@require_GET
def enterprises(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not selectors.is_inspector(user):
        raise Http404(_("您访问的内容不存在"))
    rows = selectors.enterprise_queryset_for(user).order_by("town__code", "name")
    town = request.GET.get("town") or ""
    category = request.GET.get("category") or ""
    query = (request.GET.get("q") or "").strip()
    if town:
        rows = rows.filter(town__code=town)
    if category:
        rows = rows.filter(management_category=category)
    if query:
        rows = rows.filter(name__contains=query) | rows.filter(uscc=query.upper())
    open_alerts = selectors.alert_queryset_for(user).filter(status=AlertStatus.OPEN)
    context = {
        "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
        "towns": Region.objects.filter(level=Level.TOWN).order_by("code"),
        "categories": ManagementCategory.choices,
        "filters": {"town": town, "category": category, "q": query},
        "open_alerts": open_alerts.count(),
    }
    return render(request, "environment/enterprises.html", context)


@login_required
@require_GET
@not_found_as_404
def enterprise(request: HttpRequest, uscc: str) -> HttpResponse:
    found = _enterprise(request, uscc)
    return render(
        request, "environment/enterprise.html", enterprise_context(found, now=clock.now())
    )


@login_required
@require_GET
@not_found_as_404
def outlet(request: HttpRequest, outlet_id: int) -> HttpResponse:
    found = selectors.get_outlet_for_user(_user(request), outlet_id)
    context = outlet_context(found, inspector=True, now=clock.now())
    return render(request, "environment/outlet.html", context)


@login_required
@require_GET
@not_found_as_404
def outlet_qr(request: HttpRequest, outlet_id: int) -> HttpResponse:
    found: Outlet = selectors.get_outlet_for_user(_user(request), outlet_id)
    return HttpResponse(qr.qr_svg(qr.outlet_url(found), scale=6), content_type="image/svg+xml")


@login_required
@require_GET
@not_found_as_404
def labels(request: HttpRequest, uscc: str) -> HttpResponse:
    found = _enterprise(request, uscc)
    pdf = label_sheet(found, on=clock.local_date())
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="labels-{found.uscc}.pdf"'
    return response


@login_required
@require_GET
@not_found_as_404
def permit_copy(request: HttpRequest, permit_id: int) -> FileResponse:
    enterprises_ = selectors.enterprise_queryset_for(_user(request))
    permit = Permit.objects.filter(pk=permit_id, enterprise__in=enterprises_).first()
    if permit is None or not permit.copy_file:
        raise Http404(_("许可证副本不存在"))
    handle = storages["private"].open(permit.copy_file, "rb")
    return FileResponse(handle, as_attachment=False, filename=permit.copy_file.split("/")[-1])


@login_required
@require_GET
@not_found_as_404
def report(request: HttpRequest, uscc: str) -> HttpResponse:
    found = _enterprise(request, uscc)
    try:
        month = parse_month(request.GET.get("month"), today=clock.local_date())
    except DomainError as exc:
        return render(request, "environment/error.html", {"message": exc.message}, status=422)
    context = {"report": month_report(found, month), "enterprise": found}
    return render(request, "environment/report.html", context)


@login_required
@require_GET
@not_found_as_404
def report_export(request: HttpRequest, uscc: str, fmt: str) -> HttpResponse:
    found = _enterprise(request, uscc)
    if fmt not in ("csv", "xlsx"):
        raise Http404
    try:
        month = parse_month(request.GET.get("month"), today=clock.local_date())
    except DomainError as exc:
        return HttpResponse(exc.message, status=422, content_type="text/plain; charset=utf-8")
    data = month_report(found, month)
    name = f"{found.uscc}-{month:%Y-%m}"
    if fmt == "csv":
        part = request.GET.get("part") or "outlets"
        response = HttpResponse(report_csv(data, part), content_type="text/csv; charset=utf-8")
        name = f"{name}-{part}"
    else:
        response = HttpResponse(
            report_xlsx(data),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@login_required
@require_GET
def alerts(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not selectors.is_inspector(user):
        raise Http404(_("您访问的内容不存在"))
    status = request.GET.get("status") or AlertStatus.OPEN
    rows = selectors.alert_queryset_for(user).select_related("point")
    if status in AlertStatus.values:
        rows = rows.filter(status=status)
    context = {
        "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
        "status": status,
        "statuses": AlertStatus.choices,
    }
    return render(request, "environment/alerts.html", context)


# ---------------------------------------------------------------- micro stations (public)


@require_GET
def stations_page(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period") or AqiPeriod.HOUR
    if period not in AqiPeriod.values:
        period = AqiPeriod.HOUR
    context = stations_context(period)
    context["map"] = {
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
    }
    return render(request, "environment/stations.html", context)


@require_GET
def station(request: HttpRequest, mn: str) -> HttpResponse:
    try:
        found = stations.get_station(mn)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    context = station_context(found, now=clock.now(), days=7)
    return render(request, "environment/station.html", context)
