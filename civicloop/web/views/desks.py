"""The workspaces of the people who handle cases: grid worker, centre desk, department desk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRedirect

from civicloop.accounts.models import Membership
from civicloop.cases.models import Case, CaseQuerySet, State
from civicloop.cases.selectors import CaseFilters
from civicloop.cases.services import case_resolve_on_spot
from civicloop.lib.errors import DomainError
from civicloop.web import access, selectors
from civicloop.web.forms import DeskFilterForm, OnSpotForm, add_domain_error, photo_uploads
from civicloop.web.selectors import CENTRE_QUEUES, UNIT_QUEUES, DeskQuery, Queue
from civicloop.web.views.common import is_htmx, map_config, page_of, query_without, user_of

BOARD_LIMIT = 50


# ---------------------------------------------------------------- grid worker


@login_required
@require_GET
def grid(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    memberships = access.grid_memberships(user)
    cases = selectors.grid_cases(user, memberships)
    context = {
        "grids": [m.region for m in memberships],
        "verify": list(cases.filter(state=State.VERIFYING)),
        "check": list(cases.filter(state=State.SUBMITTED)),
        "page": page_of(request, cases),
        "points": selectors.map_points(cases),
        "map": map_config(request),
    }
    return render(request, "web/grid.html", context)


def _on_spot_context(request: HttpRequest, form: OnSpotForm) -> dict[str, Any]:
    return {
        "form": form,
        "category_groups": selectors.categories_grouped(),
        "map": map_config(request),
        "grids": [m.region for m in access.grid_memberships(user_of(request))],
    }


@login_required
def on_spot(request: HttpRequest) -> HttpResponse:
    access.grid_memberships(user_of(request))
    if request.method != "POST":
        return render(request, "web/on_spot.html", _on_spot_context(request, OnSpotForm()))
    form = OnSpotForm(request.POST, request.FILES)
    case = _resolve(request, form) if form.is_valid() else None
    if case is None:
        template = "web/on_spot.html#on-spot-form" if is_htmx(request) else "web/on_spot.html"
        return render(request, template, _on_spot_context(request, form), status=422)
    messages.success(request, _("自处置已办结，案件编号 %(number)s") % {"number": case.number})
    url = reverse("web:case", args=[case.number])
    return _client_redirect(request, url)


def _resolve(request: HttpRequest, form: OnSpotForm) -> Case | None:
    data = form.cleaned_data
    try:
        return case_resolve_on_spot(
            by=user_of(request),
            category=data["category"],
            description=data["description"],
            lat=data["lat"],
            lon=data["lon"],
            address=data["address"],
            before=photo_uploads(data["before"]),
            after=photo_uploads(data["after"]),
            note=data["note"],
        )
    except DomainError as e:
        add_domain_error(form, e, photo_field="")
        return None


def _client_redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if is_htmx(request) else redirect(url)


# ---------------------------------------------------------------- desks


def _filters(request: HttpRequest, area: Any) -> tuple[DeskFilterForm, DeskQuery]:
    form = DeskFilterForm(
        request.GET,
        majors=selectors.major_categories(),
        regions=selectors.filter_regions(area),
    )
    if not form.is_valid():
        return form, DeskQuery()
    data = form.cleaned_data
    kind, _sep, code = (data["category"] or "").partition("-")
    filters = CaseFilters(
        q=data["q"] or None,
        category=code or None,
        region=data["region"] or None,
        source=data["source"] or None,
        overdue=True if data["overdue"] else None,
    )
    return form, DeskQuery(filters, kind or None)


def _desk(
    request: HttpRequest,
    *,
    title: Any,
    queues: Sequence[Queue],
    cases: CaseQuerySet,
    form: DeskFilterForm,
) -> HttpResponse:
    counts = selectors.queue_counts(cases, queues)
    queue = selectors.queue_by_key(queues, request.GET.get("queue"), counts)
    page = page_of(request, cases.filter(state__in=queue.states))
    context = {
        "title": title,
        "queues": queues,
        "counts": counts,
        "queue": queue,
        "page": page,
        "requests": selectors.pending_requests(page),
        "form": form,
        "tab_query": query_without(request, "page", "queue"),
        "reload_url": _reload_url(request, queue),
        "page_query": query_without(request, "page"),
        "is_centre": queues is CENTRE_QUEUES,
    }
    template = "web/desk.html#queue" if is_htmx(request) else "web/desk.html"
    return render(request, template, context)


def _reload_url(request: HttpRequest, queue: Queue) -> str:
    """This queue's URL, to refresh it in place after a case changes."""
    params = request.GET.copy()
    params["queue"] = queue.key
    return f"{request.path}?{params.urlencode()}"


def _area(memberships: Sequence[Membership]) -> Any:
    return selectors.map_area(memberships)


@login_required
@require_GET
def centre(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    memberships = access.centre_memberships(user)
    form, query = _filters(request, _area(memberships))
    cases = selectors.desk_cases(user, query)
    title = gettext_lazy("指挥中心工作台")
    return _desk(request, title=title, queues=CENTRE_QUEUES, cases=cases, form=form)


@login_required
@require_GET
def unit(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    memberships = access.unit_memberships(user)
    form, query = _filters(request, _area(memberships))
    cases = selectors.unit_cases(user, query)
    names = "、".join(sorted({m.organisation.name for m in memberships if m.organisation}))
    title = _("部门工作台 · %(units)s") % {"units": names}
    return _desk(request, title=title, queues=UNIT_QUEUES, cases=cases, form=form)


@login_required
@require_GET
def supervision(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    memberships = access.centre_memberships(user)
    form, query = _filters(request, _area(memberships))
    sections = [
        (section, section.cases.count(), section.cases[:BOARD_LIMIT])
        for section in selectors.supervision_board(user, query)
    ]
    context = {"form": form, "sections": sections, "limit": BOARD_LIMIT}
    return render(request, "web/supervision.html", context)


@login_required
@require_GET
def centre_map(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    memberships = access.centre_memberships(user)
    area = _area(memberships)
    form, query = _filters(request, area)
    cases = selectors.desk_cases(user, query.but(states=selectors.OPEN_STATES))
    context = {
        "form": form,
        "points": selectors.map_points(cases),
        "total": cases.count(),
        "limit": selectors.MAP_POINT_LIMIT,
        "area": area,
        "layer_level": selectors.map_layer_level(area) if area else "",
        "map": map_config(request),
    }
    return render(request, "web/centre_map.html", context)
