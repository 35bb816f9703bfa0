"""GeoJSON boundaries: validation, normal form and centres.

Coordinates are WGS-84 in GeoJSON order, `[longitude, latitude]`; centres are `LatLon`, in the
order people say them. Structural checks come before shapely so that a bad file gets a precise
Chinese message instead of a library traceback.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, TypeAlias, TypeGuard, cast

import shapely
from django.utils.translation import gettext as _
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

from civicloop.regions.errors import Code, RegionError

POLYGON_TYPES = ("Polygon", "MultiPolygon")

Boundary: TypeAlias = Polygon | MultiPolygon


class LatLon(NamedTuple):
    lat: float
    lon: float


def parse_boundary(boundary: Any) -> Boundary:
    """The shapely geometry of a GeoJSON Polygon or MultiPolygon; RegionError says what is wrong."""
    if not isinstance(boundary, dict):
        raise _invalid(_("边界必须是 GeoJSON 几何对象"))
    kind = boundary.get("type")
    if kind not in POLYGON_TYPES:
        raise _invalid(
            _("边界类型必须是 Polygon 或 MultiPolygon，不能是 %(type)s") % {"type": kind}
        )
    coordinates = boundary.get("coordinates")
    if not _is_array(coordinates) or not coordinates:
        raise _invalid(_("边界缺少坐标"))
    for rings in [coordinates] if kind == "Polygon" else coordinates:
        _check_polygon(rings)
    geometry = shape(normalise_boundary(boundary))
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        raise _invalid(_("边界几何无效：%(reason)s") % {"reason": reason})
    return cast(Boundary, geometry)


def normalise_boundary(boundary: dict[str, Any]) -> dict[str, Any]:
    """Only `type` and 2-D float `coordinates` in plain lists, as stored and exported."""
    return {"type": boundary["type"], "coordinates": _as_lists(boundary["coordinates"])}


def as_geojson(geometry: Boundary) -> dict[str, Any]:
    return normalise_boundary(mapping(geometry))


def centre_of(geometry: Boundary) -> LatLon:
    """A point guaranteed to lie inside the geometry (unlike the centroid of a crescent)."""
    point = geometry.representative_point()
    return LatLon(point.y, point.x)


def check_lat_lon(lat: Any, lon: Any) -> bool:
    return is_number(lat) and is_number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def _check_polygon(rings: Any) -> None:
    if not _is_array(rings) or not rings:
        raise _invalid(_("多边形至少需要一个外环"))
    for ring in rings:
        _check_ring(ring)


def _check_ring(ring: Any) -> None:
    if not _is_array(ring) or len(ring) < 4:
        raise _invalid(_("多边形的每个环至少需要4个坐标点"))
    for position in ring:
        _check_position(position)
    if list(ring[0][:2]) != list(ring[-1][:2]):
        raise _invalid(_("多边形的环未闭合：首尾坐标必须相同"))


def _check_position(position: Any) -> None:
    if not _is_array(position) or len(position) < 2:
        raise _invalid(_("坐标必须是 [经度, 纬度] 数字对"))
    lon, lat = position[0], position[1]
    if not (is_number(lon) and is_number(lat)):
        raise _invalid(_("坐标必须是 [经度, 纬度] 数字对"))
    if not check_lat_lon(lat, lon):
        raise _invalid(
            _("坐标 [%(lon)s, %(lat)s] 超出经纬度范围（GeoJSON 的顺序是 [经度, 纬度]）")
            % {"lon": lon, "lat": lat}
        )


def _as_lists(value: Any) -> Any:
    if _is_array(value) and value and is_number(value[0]):
        return [float(value[0]), float(value[1])]
    return [_as_lists(item) for item in value]


def _is_array(value: Any) -> bool:
    return isinstance(value, list | tuple)


def is_number(value: Any) -> TypeGuard[float]:
    """A finite int or float; not a bool, though Python counts it as an int."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _invalid(message: str) -> RegionError:
    return RegionError(Code.GEOMETRY_INVALID, message)
