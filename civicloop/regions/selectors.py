"""Read-side queries for regions. Regions are public reference data: no access scoping here."""

from __future__ import annotations

from civicloop.regions.lookup import locate
from civicloop.regions.models import Level, Region, RegionQuerySet


def region_get(code: str) -> Region | None:
    return Region.objects.filter(code=code).select_related("parent").first()


def region_children(region: Region) -> RegionQuerySet:
    return Region.objects.filter(parent=region).order_by("code")


def towns(city: Region | None = None) -> RegionQuerySet:
    """The towns and streets (镇街), of one city or of all, by code."""
    regions = Region.objects.at_level(Level.TOWN)
    if city is not None:
        regions = regions.filter(parent=city)
    return regions.order_by("code")


def region_ancestors(region: Region) -> list[Region]:
    """The regions above `region`, city first."""
    return list(Region.objects.ancestors_of(region))


def region_for_point(lat: float, lon: float) -> Region | None:
    """The grid containing the WGS-84 point, or None outside every grid."""
    return locate(lat, lon)
