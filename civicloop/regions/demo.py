"""The Yiwu demo map: real names and codes, generated boundaries.

Boundaries are tiled top-down so that each level partitions the one above: towns are the Voronoi
cells of the town seats inside the (convex) city outline, villages the cells of seeds spread
around the town seat inside their town, grids likewise inside their village. Cells of a convex
polygon are convex polygons, so every boundary is a single Polygon, and the same seeds give the
same map on every run.

`load_yiwu_regions()` writes the map through the importer (so through the services);
`export_geojson()` writes the same features to `data/yiwu.geojson` for `import_regions`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import shapely
from django.db import transaction
from django.utils.translation import gettext as _
from shapely.geometry import LineString, Polygon

from civicloop.regions.data import yiwu
from civicloop.regions.errors import Code, RegionError
from civicloop.regions.geometry import LatLon, as_geojson, centre_of
from civicloop.regions.importer import OnExisting, Outcome, import_features
from civicloop.regions.models import Kind, Level

GEOJSON_PATH = Path(__file__).parent / "data" / "yiwu.geojson"

CHINESE_ORDINALS = "一二三四五六七八九十"

UNIT_HALF_SIZE = 0.0003  # degrees: a unit is a square of about 60 m
UNIT_SPACING = 0.0008


@transaction.atomic
def load_yiwu_regions() -> dict[str, int]:
    """Create the demo map; regions that already exist (by code) are left as they are."""
    report = import_features(yiwu_features(), on_existing=OnExisting.SKIP)
    if not report.is_ok:
        raise RegionError(Code.FEATURE_INVALID, str(report.failures[0]))
    return {
        "created": report.count(Outcome.CREATED),
        "unchanged": report.count(Outcome.UNCHANGED),
    }


def export_geojson(path: Path = GEOJSON_PATH) -> Path:
    collection = {
        "type": "FeatureCollection",
        "name": "义乌市行政区划与网格（演示数据）",
        "features": yiwu_features(),
    }
    text = json.dumps(collection, ensure_ascii=False, indent=1)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def yiwu_features() -> list[dict[str, Any]]:
    """Every demo region as a GeoJSON Feature, parents before children."""
    outline = Polygon(yiwu.CITY_OUTLINE).convex_hull
    centre = LatLon(*yiwu.CITY_CENTRE)
    features = [
        _feature(yiwu.CITY_CODE, yiwu.CITY_NAME, Level.CITY, Kind.CITY, None, outline, centre)
    ]
    seats = [(town.lon, town.lat) for town in yiwu.TOWNS]
    for town, cell in zip(yiwu.TOWNS, partition(outline, seats), strict=True):
        features += _town_features(town, cell)
    return features


def _town_features(town: yiwu.TownSeed, area: Polygon) -> list[dict[str, Any]]:
    seat = LatLon(town.lat, town.lon)
    features = [_feature(town.code, town.name, Level.TOWN, town.kind, yiwu.CITY_CODE, area, seat)]
    seeds = spread(area, (town.lon, town.lat), len(town.villages), _phase(town.code))
    for village, seed, cell in zip(town.villages, seeds, partition(area, seeds), strict=True):
        kind = village.kind
        features.append(_feature(village.code, village.name, Level.VILLAGE, kind, town.code, cell))
        features += _grid_features(village, seed, cell)
    return features


def _grid_features(
    village: yiwu.VillageSeed, seed: tuple[float, float], area: Polygon
) -> list[dict[str, Any]]:
    count = yiwu.grid_count(village)
    seeds = spread(area, seed, count, _phase(village.code))
    features = []
    for number, cell in enumerate(partition(area, seeds), start=1):
        code = f"{village.code}{number:03d}"
        name = f"{village.name}第{CHINESE_ORDINALS[number - 1]}网格"
        features.append(_feature(code, name, Level.GRID, Kind.GRID, village.code, cell))
        features += _unit_features(code, cell)
    return features


def _unit_features(grid_code: str, area: Polygon) -> list[dict[str, Any]]:
    units = [unit for unit in yiwu.UNITS if unit.code[:-3] == grid_code]
    anchor = area.representative_point()
    features = []
    for number, unit in enumerate(units):
        lon, lat = anchor.x + number * UNIT_SPACING, anchor.y
        square = _polygon(
            shapely.box(
                lon - UNIT_HALF_SIZE,
                lat - UNIT_HALF_SIZE,
                lon + UNIT_HALF_SIZE,
                lat + UNIT_HALF_SIZE,
            ).intersection(area)
        )
        features.append(_feature(unit.code, unit.name, Level.UNIT, unit.kind, grid_code, square))
    return features


def partition(area: Polygon, seeds: list[tuple[float, float]]) -> list[Polygon]:
    """One cell per seed, in seed order: the Voronoi cells of the seeds clipped to `area`."""
    if len(seeds) == 1:
        return [area]
    cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=area, ordered=True)
    return [_polygon(cell.intersection(area)) for cell in cells.geoms]


def spread(
    area: Polygon, centre: tuple[float, float], count: int, phase: float
) -> list[tuple[float, float]]:
    """`count` seeds: the centre, then the others evenly around it, halfway to the border."""
    seeds = [centre]
    for i in range(count - 1):
        angle = phase + 2 * math.pi * i / (count - 1)
        direction = (math.cos(angle), math.sin(angle))
        reach = _distance_to_border(area, centre, direction)
        seeds.append((centre[0] + direction[0] * reach / 2, centre[1] + direction[1] * reach / 2))
    return seeds


def _distance_to_border(
    area: Polygon, start: tuple[float, float], direction: tuple[float, float]
) -> float:
    far = 10.0  # degrees: beyond any city
    ray = LineString([start, (start[0] + direction[0] * far, start[1] + direction[1] * far)])
    crossing = ray.intersection(area.exterior)
    return float(shapely.distance(shapely.Point(start), crossing))


def _phase(code: str) -> float:
    # Turns each ring of seeds by a different angle so that neighbouring maps don't line up.
    return int(code[-6:]) % 360 * math.pi / 180


def _polygon(geometry: Any) -> Polygon:
    if not isinstance(geometry, Polygon) or geometry.is_empty:
        raise ValueError(f"expected a polygon cell, got {geometry.geom_type}")
    return geometry


def _feature(
    code: str,
    name: str,
    level: Level,
    kind: Kind,
    parent_code: str | None,
    boundary: Polygon,
    centre: LatLon | None = None,
) -> dict[str, Any]:
    point = centre or centre_of(boundary)
    properties = {
        "code": code,
        "name": name,
        "level": level.value,
        "kind": kind.value,
        "parent_code": parent_code,
        "centre_lat": point.lat,
        "centre_lon": point.lon,
    }
    return {"type": "Feature", "properties": properties, "geometry": as_geojson(boundary)}


def describe(counts: dict[str, int]) -> str:
    return _("义乌演示区划：新建 %(created)d 个，已存在 %(unchanged)d 个") % counts
