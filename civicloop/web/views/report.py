"""Reporting a problem (phone first) and following one's own reports."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from civicloop.cases.duplicates import duplicate_candidates
from civicloop.cases.models import Case, Urgency
from civicloop.cases.selectors import get_case_to_follow
from civicloop.cases.services import case_follow, case_report
from civicloop.lib.errors import DomainError, NotFound
from civicloop.regions.errors import RegionError
from civicloop.regions.lookup import locate_all
from civicloop.web import display, selectors
from civicloop.web.forms import ReportForm, SimilarForm, add_domain_error, photo_uploads
from civicloop.web.views.common import is_htmx, map_config, page_of, user_of


def report_context(request: HttpRequest, form: ReportForm) -> dict[str, Any]:
    return {
        "form": form,
        "category_groups": selectors.categories_grouped(),
        "map": map_config(request),
        "photo_max_count": settings.PHOTO_MAX_COUNT,
    }


@login_required
def report(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "web/report.html", report_context(request, ReportForm()))
    form = ReportForm(request.POST, request.FILES)
    case = _report(request, form) if form.is_valid() else None
    if case is None:
        template = "web/report.html#report-form" if is_htmx(request) else "web/report.html"
        return render(request, template, report_context(request, form), status=422)
    messages.success(
        request, _("上报成功，案件编号 %(number)s，我们会尽快处理") % {"number": case.number}
    )
    url = reverse("web:case", args=[case.number])
    return HttpResponseClientRedirect(url) if is_htmx(request) else redirect(url)


def _report(request: HttpRequest, form: ReportForm) -> Case | None:
    data = form.cleaned_data
    try:
        return case_report(
            by=user_of(request),
            category=data["category"],
            description=data["description"],
            lat=data["lat"],
            lon=data["lon"],
            address=data["address"],
            urgency=Urgency(data["urgency"]),
            photos=photo_uploads(data["photos"]),
            is_anonymous=data["is_anonymous"],
        )
    except DomainError as e:
        add_domain_error(form, e)
        return None


@login_required
@require_GET
def place(request: HttpRequest) -> HttpResponse:
    """Which grid a point is in, shown under the map as soon as a location is picked."""
    context: dict[str, Any] = {"placement": None, "error": ""}
    try:
        lat, lon = float(request.GET["lat"]), float(request.GET["lon"])
        context["placement"] = locate_all(lat, lon)
    except (KeyError, ValueError, RegionError):
        context["error"] = _("坐标无效，请重新选择位置")
    if context["placement"] is None and not context["error"]:
        context["error"] = _("该位置不在本市网格范围内，请重新选择位置")
    return render(request, "web/report.html#place", context)


@login_required
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    page = page_of(request, selectors.my_reports(user_of(request)))
    rows = [(case, display.step(case.state), display.tone(case.state)) for case in page]
    return render(request, "web/mine.html", {"page": page, "rows": rows})


@login_required
@require_GET
def similar(request: HttpRequest) -> HttpResponse:
    """Before submitting: open cases of the same 小类 nearby, which the reporter may follow."""
    form = SimilarForm(request.GET)
    candidates = []
    if form.is_valid():
        data = form.cleaned_data
        candidates = duplicate_candidates(
            category=data["category"], lat=data["lat"], lon=data["lon"]
        )
    return render(request, "web/report.html#similar", {"candidates": candidates})


@login_required
@require_POST
def follow(request: HttpRequest, number: str) -> HttpResponse:
    """我也遇到: follow a case found among the similar ones instead of reporting it again."""
    user = user_of(request)
    try:
        case = get_case_to_follow(user, number)
    except NotFound as e:
        raise Http404 from e
    try:
        case_follow(case=case, by=user)
    except DomainError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("已关注该问题，处理进展会通知您"))
    url = reverse("web:case", args=[case.number])
    return HttpResponseClientRedirect(url) if is_htmx(request) else redirect(url)
