from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from civicloop.regions.lookup import invalidate_grid_index
from civicloop.regions.models import Kind, Level, Region
from civicloop.regions.services import region_create


def rectangle(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(autouse=True)
def _fresh_grid_index() -> Iterator[None]:
    # The index lives in the process; rolled-back test data must not leak through it.
    invalidate_grid_index()
    yield
    invalidate_grid_index()


@pytest.fixture
def city(db: None) -> Region:
    return region_create(
        code="330782000000",
        name="义乌市",
        level=Level.CITY,
        kind=Kind.CITY,
        parent=None,
        boundary=rectangle(120.00, 29.20, 120.20, 29.40),
        centre=(29.3069, 120.0751),
    )


@pytest.fixture
def town(city: Region) -> Region:
    return region_create(
        code="330782001000",
        name="稠城街道",
        level=Level.TOWN,
        kind=Kind.STREET,
        parent=city,
        boundary=rectangle(120.00, 29.20, 120.10, 29.30),
    )


@pytest.fixture
def village(town: Region) -> Region:
    return region_create(
        code="330782001001",
        name="孝子祠社区",
        level=Level.VILLAGE,
        kind=Kind.COMMUNITY,
        parent=town,
        boundary=rectangle(120.00, 29.20, 120.02, 29.21),
    )


@pytest.fixture
def west_grid(village: Region) -> Region:
    return region_create(
        code="330782001001001",
        name="孝子祠社区第一网格",
        level=Level.GRID,
        kind=Kind.GRID,
        parent=village,
        boundary=rectangle(120.00, 29.20, 120.01, 29.21),
    )


@pytest.fixture
def east_grid(village: Region) -> Region:
    return region_create(
        code="330782001001002",
        name="孝子祠社区第二网格",
        level=Level.GRID,
        kind=Kind.GRID,
        parent=village,
        boundary=rectangle(120.01, 29.20, 120.02, 29.21),
    )
