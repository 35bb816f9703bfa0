from __future__ import annotations

import logging
import math
from datetime import timedelta

import pytest
from django.utils import timezone

from civicloop.regions.errors import Code, RegionError
from civicloop.regions.lookup import (
    Placement,
    grid_index,
    locate,
    locate_all,
    locate_town,
    locate_village,
)
from civicloop.regions.models import Kind, Level, Region
from civicloop.regions.services import region_create, region_update_boundary
from civicloop.regions.tests.conftest import rectangle


def test_it_finds_the_grid_containing_a_point(west_grid, east_grid):
    assert locate(29.205, 120.005) == west_grid
    assert locate(29.205, 120.015) == east_grid


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (29.25, 120.05),  # in the town, in no grid
        (29.205, 120.0201),  # just east of the village
        (29.30, 119.50),  # west of the city
        (0.0, 0.0),
    ],
)
def test_it_returns_none_outside_every_grid(west_grid, east_grid, lat, lon):
    assert locate(lat, lon) is None


def test_it_returns_none_when_there_are_no_grids(village):
    assert locate(29.205, 120.005) is None


def test_a_point_on_a_shared_border_goes_to_the_smallest_code(west_grid, east_grid):
    assert locate(29.205, 120.01) == west_grid
    assert locate(29.21, 120.01) == west_grid  # the shared corner on the village border


def test_border_points_do_not_depend_on_insertion_order(village):
    east = region_create(
        code="330782001001002",
        name="孝子祠社区第二网格",
        level=Level.GRID,
        kind=Kind.GRID,
        parent=village,
        boundary=rectangle(120.01, 29.20, 120.02, 29.21),
    )
    west = region_create(
        code="330782001001001",
        name="孝子祠社区第一网格",
        level=Level.GRID,
        kind=Kind.GRID,
        parent=village,
        boundary=rectangle(120.00, 29.20, 120.01, 29.21),
    )
    assert east.pk < west.pk
    assert locate(29.205, 120.01) == west


def test_the_outer_border_belongs_to_the_grid(west_grid, east_grid):
    assert locate(29.20, 120.005) == west_grid
    assert locate(29.205, 120.02) == east_grid


def test_it_sees_a_boundary_change_at_once(west_grid, east_grid):
    assert locate(29.205, 120.007) == west_grid
    region_update_boundary(region=west_grid, boundary=rectangle(120.00, 29.20, 120.004, 29.21))
    assert locate(29.205, 120.007) is None
    assert locate(29.205, 120.003) == west_grid


def test_it_sees_a_new_grid_at_once(west_grid):
    assert locate(29.205, 120.015) is None
    east = region_create(
        code="330782001001002",
        name="孝子祠社区第二网格",
        level=Level.GRID,
        kind=Kind.GRID,
        parent=west_grid.parent,
        boundary=rectangle(120.01, 29.20, 120.02, 29.21),
    )
    assert locate(29.205, 120.015) == east


def test_it_sees_changes_made_by_another_process(west_grid, east_grid):
    index = grid_index()
    # Another process writes: this process's copy is not told, only the rows change.
    Region.objects.filter(pk=east_grid.pk).update(
        boundary=rectangle(120.01, 29.20, 120.03, 29.21),
        updated_at=timezone.now() + timedelta(seconds=1),
    )
    assert locate(29.205, 120.025) == east_grid
    assert grid_index() is not index


def test_it_sees_grids_deleted_by_another_process(west_grid, east_grid):
    assert locate(29.205, 120.015) == east_grid
    Region.objects.filter(pk=east_grid.pk).delete()
    assert locate(29.205, 120.015) is None


def test_it_drops_an_index_that_points_at_a_deleted_grid(west_grid, east_grid):
    index = grid_index()
    # The newest grid stays, so the fingerprint does not move: only the hit reveals the delete.
    Region.objects.filter(pk=west_grid.pk).delete()
    assert grid_index() is index
    assert locate(29.205, 120.005) is None
    assert grid_index() is not index
    assert locate(29.205, 120.015) == east_grid


def test_locate_all_also_drops_an_index_that_points_at_a_deleted_grid(west_grid, east_grid):
    grid_index()
    Region.objects.filter(pk=west_grid.pk).delete()
    assert locate_all(29.205, 120.005) is None


def test_it_reuses_the_index_while_nothing_changes(west_grid, east_grid, django_assert_num_queries):
    index = grid_index()
    with django_assert_num_queries(2):  # the fingerprint, then the grid row
        assert locate(29.205, 120.005) == west_grid
    assert grid_index() is index
    assert len(index) == 2


def test_it_skips_broken_boundaries_written_around_the_services(west_grid, east_grid, caplog):
    Region.objects.filter(pk=east_grid.pk).update(
        boundary={"type": "Point", "coordinates": [120.015, 29.205]}
    )
    with caplog.at_level(logging.WARNING, logger="civicloop.regions.lookup"):
        assert locate(29.205, 120.015) is None
        assert locate(29.205, 120.005) == west_grid
    assert caplog.messages == [
        "grid /330782000000/330782001000/330782001001/330782001001002/ skipped in the index: "
        "边界类型必须是 Polygon 或 MultiPolygon，不能是 Point"
    ]


def test_grids_without_boundary_are_not_indexed(village):
    region_create(
        code="330782001001001",
        name="孝子祠社区第一网格",
        level=Level.GRID,
        kind=Kind.GRID,
        parent=village,
    )
    assert len(grid_index()) == 0


def test_it_places_a_point_in_the_whole_chain(city, town, village, west_grid):
    assert locate_all(29.205, 120.005) == Placement(
        city=city, town=town, village=village, grid=west_grid
    )
    assert locate_village(29.205, 120.005) == village
    assert locate_town(29.205, 120.005) == town


def test_it_places_nothing_outside_the_grids(west_grid):
    assert locate_all(29.5, 120.5) is None
    assert locate_village(29.5, 120.5) is None
    assert locate_town(29.5, 120.5) is None


def test_locate_all_reads_the_fingerprint_and_the_regions_in_one_query(
    west_grid, django_assert_num_queries
):
    grid_index()
    with django_assert_num_queries(1):
        assert locate_all(29.205, 120.005).grid == west_grid


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(91.0, 120.0), (29.3, 181.0), (math.nan, 120.0), (29.3, math.inf)],
)
def test_it_rejects_impossible_points(db, lat, lon):
    with pytest.raises(RegionError) as caught:
        locate(lat, lon)
    assert caught.value.code == Code.POINT_INVALID
    assert caught.value.message == (
        f"坐标无效：纬度应在 −90～90、经度应在 −180～180 之间（{lat}, {lon}）"
    )
