"""Small helpers shared by the views."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from civicloop.accounts.models import User
from civicloop.cases.models import Case
from civicloop.cases.selectors import get_case_for_user
from civicloop.lib.errors import NotFound
from civicloop.web import selectors

PAGE_SIZE = 20


def user_of(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx sent the request (django_htmx's middleware sets `request.htmx`)."""
    return bool(getattr(request, "htmx", False))


def htmx_page(request: HttpRequest) -> str | None:
    """The path of the page an htmx request came from."""
    details = getattr(request, "htmx", None)
    return details.current_url_abs_path if details else None


def case_or_404(request: HttpRequest, number: str) -> Case:
    """The case through the access-scoped selector: outside the user's scope is 404."""
    try:
        return get_case_for_user(user_of(request), number)
    except NotFound as e:
        raise Http404 from e


def page_of(request: HttpRequest, rows: QuerySet[Any], size: int = PAGE_SIZE) -> Page[Any]:
    return Paginator(rows, size).get_page(request.GET.get("page"))


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else fallback


def query_without(request: HttpRequest, *names: str) -> str:
    """The page's query string without some parameters, to build tab and page links."""
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


def map_config(request: HttpRequest) -> dict[str, Any]:
    """What every map needs: tiles (optional) and where to start."""
    city = selectors.city()
    return {
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
        "centre": selectors.region_centre(city),
        "city_code": city.code if city else "",
    }
