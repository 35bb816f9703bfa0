"""Point → grid: an in-process R-tree (shapely 2 `STRtree`) over every grid boundary.

Works on any database, since boundaries are GeoJSON in a JSON column. The index is built on first
use and kept per process. Each lookup reads the latest `updated_at` of the grids (one index probe
on `(level, updated_at)`, about 0.3 ms with 10,000 grids on SQLite, where adding COUNT or MAX(id)
would scan them all) and rebuilds when it moved: new and changed grids are seen on the next
lookup, whichever process wrote them. A grid deleted since the build can only show up as a hit
whose row is gone; then the index is dropped and the lookup runs once more. The services also
drop this process's copy at once.

`locate_all` reads that fingerprint and the regions of the grid the current index finds in one
statement (a caller may add its own scalar probes to it, `locate_all_probing`); only when the
fingerprint moved does it rebuild the index and read again. The regions are always read fresh:
nothing but the grid shapes is kept between lookups.

A point on the border of two grids belongs to the one with the smallest code (path), so that
every process answers the same for the same point. See docs/regions.md for numbers and the
PostGIS path.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from django.db import connection, connections
from django.utils.translation import gettext as _
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from civicloop.lib import rows
from civicloop.regions.errors import Code, RegionError
from civicloop.regions.geometry import check_lat_lon, parse_boundary
from civicloop.regions.models import Level, Region

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """A grid with the regions above it."""

    city: Region
    town: Region
    village: Region
    grid: Region


class GridIndex:
    """Immutable once built; shared by the threads of a process."""

    def __init__(self, fingerprint: Any, rows: list[tuple[int, str, BaseGeometry]]):
        self.fingerprint = fingerprint
        self._paths = [row[1] for row in rows]
        self._ids = [row[0] for row in rows]
        self._shapes = [row[2] for row in rows]
        shapely.prepare(self._shapes)
        self._tree = shapely.STRtree(self._shapes)

    @classmethod
    def build(cls, fingerprint: Any) -> GridIndex:
        grids = Region.objects.filter(level=Level.GRID, boundary__isnull=False)
        rows = [
            (pk, path, shape)
            for pk, path, boundary in grids.values_list("pk", "path", "boundary")
            if (shape := _shape_or_none(path, boundary)) is not None
        ]
        return cls(fingerprint, rows)

    def __len__(self) -> int:
        return len(self._ids)

    def find(self, lat: float, lon: float) -> tuple[int, str] | None:
        """(id, path) of the grid covering the point, or None."""
        point = Point(lon, lat)
        hits = self._tree.query(point, predicate="intersects")
        if not len(hits):
            return None
        # Inside beats on-the-border; among equals the smallest code (so path) wins.
        best = min(hits, key=lambda i: (not self._shapes[i].contains(point), self._paths[i]))
        return self._ids[best], self._paths[best]


class _IndexCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: GridIndex | None = None

    def get(self) -> GridIndex:
        return self.for_fingerprint(_fingerprint())

    def current(self) -> GridIndex | None:
        """This process's index as it is, without checking its freshness."""
        return self._index

    def for_fingerprint(self, fingerprint: Any) -> GridIndex:
        index = self._index
        if index is not None and index.fingerprint == fingerprint:
            return index
        with self._lock:
            if self._index is None or self._index.fingerprint != fingerprint:
                self._index = GridIndex.build(fingerprint)
                logger.info("grid index built: %d grids", len(self._index))
            return self._index

    def clear(self) -> None:
        self._index = None


_cache = _IndexCache()


def grid_index() -> GridIndex:
    return _cache.get()


def invalidate_grid_index() -> None:
    _cache.clear()


def locate(lat: float, lon: float) -> Region | None:
    """The grid containing the WGS-84 point, or None outside every grid."""
    for _attempt in range(2):
        found = _find(lat, lon)
        if found is None:
            return None
        grid = Region.objects.filter(pk=found[0]).first()
        if grid is not None:
            return grid
        invalidate_grid_index()  # deleted since the index was built
    return None


def locate_all(lat: float, lon: float) -> Placement | None:
    """The grid containing the point and its village, town and city: one query while the
    index is fresh (the fingerprint and the regions together)."""
    return locate_all_probing(lat, lon)[0]


def locate_all_probing(
    lat: float, lon: float, probes: Sequence[str] = ()
) -> tuple[Placement | None, tuple[Any, ...]]:
    """`locate_all`, plus the values of the caller's scalar SQL `probes` (constant SQL from
    code, never input; e.g. another cache's freshness) read in the same statement."""
    placement, values, _rows = locate_all_riding(lat, lon, probes)
    return placement, values


def locate_all_riding(
    lat: float, lon: float, probes: Sequence[str] = (), riders: Sequence[rows.Branch] = ()
) -> tuple[Placement | None, tuple[Any, ...], list[list[tuple[Any, ...]]]]:
    """`locate_all_probing`, plus the rows of the caller's SELECTs `riders`, read in the same
    statement as the placement (the first one, if the index has to be rebuilt)."""
    _check(lat, lon)
    index, rebuilt = _cache.current(), False
    values: tuple[Any, ...] = ()
    rider_rows: list[list[tuple[Any, ...]]] = []
    for _attempt in range(4):
        found = index.find(lat, lon) if index is not None else None
        codes = [code for code in found[1].split("/") if code] if found else []
        fingerprint, values, regions, read = _probe(codes, probes, () if rider_rows else riders)
        rider_rows = rider_rows or read
        # New or changed grids: rebuild and look again. An index built in this call is fresh
        # enough even if grids changed since (as a lookup that probes first, then reads).
        if index is None or (index.fingerprint != fingerprint and not rebuilt):
            index, rebuilt = _cache.for_fingerprint(fingerprint), True
            continue
        if found is None:
            return None, values, rider_rows
        by_level = {r.level: r for r in regions}
        if by_level.get(Level.GRID) is not None and by_level[Level.GRID].pk == found[0]:
            return _placement(by_level), values, rider_rows
        invalidate_grid_index()  # deleted since the index was built
        index, rebuilt = None, False
    return None, values, rider_rows


def _placement(by_level: dict[str, Region]) -> Placement | None:
    if len(by_level) != 4:
        return None  # not a city/town/village/grid chain
    return Placement(
        city=by_level[Level.CITY],
        town=by_level[Level.TOWN],
        village=by_level[Level.VILLAGE],
        grid=by_level[Level.GRID],
    )


def locate_village(lat: float, lon: float) -> Region | None:
    placement = locate_all(lat, lon)
    return placement.village if placement else None


def locate_town(lat: float, lon: float) -> Region | None:
    placement = locate_all(lat, lon)
    return placement.town if placement else None


def _check(lat: float, lon: float) -> None:
    if not check_lat_lon(lat, lon):
        raise RegionError(
            Code.POINT_INVALID,
            _("坐标无效：纬度应在 −90～90、经度应在 −180～180 之间（%(lat)s, %(lon)s）")
            % {"lat": lat, "lon": lon},
        )


def _find(lat: float, lon: float) -> tuple[int, str] | None:
    _check(lat, lon)
    return grid_index().find(lat, lon)


# The latest change of a grid, as the database returns it (compared, never interpreted).
_FINGERPRINT = (
    f"(SELECT MAX(updated_at) FROM {Region._meta.db_table} WHERE level = '{Level.GRID.value}')"
)
# The columns of a placement's regions, in model order (as `from_db` wants them); the boundary
# (large) and updated_at stay deferred.
_REGION_FIELDS = tuple(
    f.attname for f in Region._meta.concrete_fields if f.name not in ("boundary", "updated_at")
)


def _fingerprint() -> Any:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_FINGERPRINT}")
        row = cursor.fetchone()
    return row[0] if row else None


def _probe(
    codes: list[str], probes: Sequence[str], riders: Sequence[rows.Branch] = ()
) -> tuple[Any, tuple[Any, ...], list[Region], list[list[tuple[Any, ...]]]]:
    """(fingerprint, probe values, regions with these codes, the riders' rows) in one
    statement."""
    table = Region._meta.db_table
    if codes:
        marks = ", ".join(["%s"] * len(codes))
        join = f"LEFT JOIN {table} r ON r.code IN ({marks})"
    else:
        join = f"LEFT JOIN {table} r ON 1 = 0"
    scalars = (_FINGERPRINT, *probes)
    head = rows.Branch(
        columns=(*scalars, *_region_columns()),
        # The first branch: its values type the columns (the NULLs of the others need none).
        types=(None,) * (len(scalars) + len(_REGION_FIELDS)),
        # Table and column names come from model metadata, the probes from code; codes are
        # parameters.
        source=f"FROM (SELECT 1 AS one) f {join}",
        params=tuple(codes),
    )
    found = rows.union(connection.alias, [head, *riders])
    width = len(scalars)
    regions = [
        Region.from_db(connection.alias, _REGION_FIELDS, row[width:])
        for row in found[0]
        if row[width] is not None
    ]
    first = found[0][0]
    return first[0], tuple(first[1:width]), regions, found[1:]


def _region_columns() -> list[str]:
    return list(_quoted_region_columns(connection.alias))


@functools.lru_cache(maxsize=8)
def _quoted_region_columns(using: str) -> tuple[str, ...]:
    # Built once per connection: quoting the names anew cost 0.02 ms of every report.
    quote = connections[using].ops.quote_name
    return tuple(f"r.{quote(name)}" for name in _REGION_FIELDS)


def _shape_or_none(path: str, boundary: object) -> BaseGeometry | None:
    # Services validate every boundary; a row edited around them must not break all lookups.
    try:
        return parse_boundary(boundary)
    except RegionError as exc:
        logger.warning("grid %s skipped in the index: %s", path, exc.message)
        return None
