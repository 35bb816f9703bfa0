"""Region boundaries as GeoJSON for the maps: with no tiles reachable they are the map."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from civicloop.regions.models import Level
from civicloop.regions.selectors import region_get
from civicloop.web import selectors


@login_required
@require_GET
def regions(request: HttpRequest, code: str, level: str) -> JsonResponse:
    """The regions of `level` inside the region `code` (the region itself at its own level)."""
    within = region_get(code)
    if within is None or level not in Level.values:
        raise Http404
    response = JsonResponse(selectors.region_features(within, level))
    # Boundaries change rarely (an import); an hour in the browser's cache saves slow links.
    response["Cache-Control"] = "private, max-age=3600"
    return response
