from __future__ import annotations

from civicloop.regions.models import Kind, Level
from civicloop.regions.selectors import (
    region_ancestors,
    region_children,
    region_for_point,
    region_get,
    towns,
)
from civicloop.regions.services import region_create
from civicloop.regions.tests.conftest import rectangle


def test_region_get_finds_by_code(town):
    assert region_get("330782001000") == town
    assert region_get("330782999000") is None


def test_region_children_are_in_code_order(village, east_grid, west_grid):
    assert list(region_children(village)) == [west_grid, east_grid]
    assert list(region_children(west_grid)) == []


def test_towns_lists_every_town_by_code(city, town):
    jiangdong = region_create(
        code="330782002000",
        name="江东街道",
        level=Level.TOWN,
        kind=Kind.STREET,
        parent=city,
        boundary=rectangle(120.10, 29.20, 120.20, 29.30),
    )
    assert list(towns()) == [town, jiangdong]
    assert list(towns(city)) == [town, jiangdong]
    assert list(towns(town)) == []


def test_region_ancestors_go_from_the_city_down(city, town, village, west_grid):
    assert region_ancestors(west_grid) == [city, town, village]
    assert region_ancestors(city) == []


def test_region_ancestors_take_one_query(west_grid, django_assert_num_queries):
    with django_assert_num_queries(1):
        region_ancestors(west_grid)


def test_region_for_point_is_the_grid(west_grid, east_grid):
    assert region_for_point(29.205, 120.015) == east_grid
    assert region_for_point(29.5, 120.5) is None
