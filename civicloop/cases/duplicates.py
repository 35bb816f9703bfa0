"""Duplicate suggestions: open cases of the same 小类 near a point, reported recently.

Each 小类 sets its radius (250 m by default, like FixMyStreet) and time window. A bounding box
on the indexed columns narrows the rows; the great-circle distance decides. What a candidate
shows is public: no reporter, no description, no photos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count

from civicloop.cases.models import CLOSED_STATES, Case, Category, State
from civicloop.lib import clock

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Candidate:
    case: Case
    distance_m: float
    followers: int


def duplicate_candidates(
    *,
    category: Category,
    lat: float,
    lon: float,
    exclude: Case | None = None,
    at: datetime | None = None,
    limit: int = 10,
) -> list[Candidate]:
    """Open cases of `category` within its radius and window, nearest first."""
    radius = category.duplicate_radius_m
    since = (at or clock.now()) - timedelta(days=category.duplicate_window_days)
    dlat = radius / METRES_PER_DEGREE
    dlon = radius / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    rows = (
        Case.objects.filter(
            category=category,
            parent__isnull=True,
            reported_at__gte=since,
            lat__range=(lat - dlat, lat + dlat),
            lon__range=(lon - dlon, lon + dlon),
        )
        .exclude(state__in=[*CLOSED_STATES, State.DRAFT])
        .select_related("category__parent")
        .annotate(follower_count=Count("followers"))
    )
    if exclude is not None:
        rows = rows.exclude(pk=exclude.pk)
    found = [
        Candidate(case, round(d, 1), case.follower_count)  # type: ignore[attr-defined]
        for case in rows
        if (d := distance_m(lat, lon, case.lat, case.lon)) <= radius
    ]
    found.sort(key=lambda c: (c.distance_m, c.case.reported_at))
    return found[:limit]
