from __future__ import annotations

import math
from typing import Any

import pytest

from civicloop.regions import services
from civicloop.regions.errors import Code, RegionError
from civicloop.regions.models import Kind, Level, Region
from civicloop.regions.services import (
    region_check,
    region_create,
    region_update,
    region_update_boundary,
)
from civicloop.regions.tests.conftest import rectangle

VILLAGE_BOUNDARY = rectangle(120.02, 29.20, 120.04, 29.21)


def create_village(town: Region, **overrides: Any) -> Region:
    arguments: dict[str, Any] = {
        "code": "330782001002",
        "name": "绣湖社区",
        "level": Level.VILLAGE,
        "kind": Kind.COMMUNITY,
        "parent": town,
        "boundary": VILLAGE_BOUNDARY,
    }
    return region_create(**(arguments | overrides))


def test_it_creates_a_city_at_the_root(city):
    city.refresh_from_db()
    assert city.code == "330782000000"
    assert city.name == "义乌市"
    assert city.level == Level.CITY
    assert city.kind == Kind.CITY
    assert city.parent is None
    assert city.path == "/330782000000/"
    assert (city.centre_lat, city.centre_lon) == (29.3069, 120.0751)
    assert city.boundary == rectangle(120.00, 29.20, 120.20, 29.40)


def test_it_builds_paths_down_to_the_unit(west_grid):
    unit = region_create(
        code="330782001001001001",
        name="县前街商铺街",
        level=Level.UNIT,
        kind=Kind.SHOP_ROW,
        parent=west_grid,
        boundary=rectangle(120.001, 29.201, 120.002, 29.202),
    )
    assert (
        unit.path == "/330782000000/330782001000/330782001001/330782001001001/330782001001001001/"
    )
    assert unit.depth == 4
    assert [r.code for r in Region.objects.within(west_grid)] == [
        "330782001001001",
        "330782001001001001",
    ]


def test_it_takes_the_centre_from_inside_the_boundary(town):
    village = create_village(town)
    assert village.centre_lat == pytest.approx(29.205, abs=1e-12)
    assert village.centre_lon == pytest.approx(120.03, abs=1e-12)


def test_it_leaves_the_centre_empty_without_boundary_or_centre(town):
    village = create_village(town, boundary=None)
    assert (village.boundary, village.centre_lat, village.centre_lon) == (None, None, None)


def test_it_stores_the_boundary_in_normal_form(town):
    boundary = {
        "type": "Polygon",
        "coordinates": (
            ((120, 29.2, 41.0), (120.01, 29.2), (120.01, 29.21), (120, 29.21), (120, 29.2)),
        ),
        "crs": {"type": "name"},
    }
    village = create_village(town, boundary=boundary)
    village.refresh_from_db()
    assert village.boundary == rectangle(120.0, 29.2, 120.01, 29.21)


def test_it_strips_the_name(town):
    assert create_village(town, name="  绣湖社区 ").name == "绣湖社区"


def test_it_accepts_a_multipolygon(town):
    boundary = {
        "type": "MultiPolygon",
        "coordinates": [
            rectangle(120.02, 29.20, 120.03, 29.21)["coordinates"],
            rectangle(120.05, 29.20, 120.06, 29.21)["coordinates"],
        ],
    }
    assert create_village(town, boundary=boundary).boundary == boundary


def polygon(*ring: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [list(ring)]}


BOWTIE = polygon([120.0, 29.2], [120.1, 29.3], [120.1, 29.2], [120.0, 29.3], [120.0, 29.2])
FULL_WIDTH = "３３０７８２００１００２"
NAN = math.nan


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"name": "   "}, Code.NAME_INVALID, "名称不能为空"),
        ({"name": "社" * 101}, Code.NAME_INVALID, "名称不能超过100个字"),
        (
            {"level": "county"},
            Code.LEVEL_INVALID,
            "未知层级“county”，应为 city、town、village、grid、unit 之一",
        ),
        (
            {"kind": Kind.STREET},
            Code.KIND_INVALID,
            "类型“street”不适用于村社，应为 community（社区）、village（行政村）",
        ),
        ({"parent": None}, Code.PARENT_REQUIRED, "缺少上级区域"),
        ({"code": "33078200100A"}, Code.CODE_INVALID, "村社代码应为12位数字：33078200100A"),
        ({"code": FULL_WIDTH}, Code.CODE_INVALID, f"村社代码应为12位数字：{FULL_WIDTH}"),
        ({"code": "33078200100"}, Code.CODE_INVALID, "村社代码应为12位数字：33078200100"),
        (
            {"code": "330782002002"},
            Code.CODE_PREFIX,
            "代码应以上级“稠城街道”的代码前缀 330782001 开头：330782002002",
        ),
        (
            {"code": "330782001000"},
            Code.CODE_INVALID,
            "代码第10–12位是本级序号，不能为000：330782001000",
        ),
        (
            {"boundary": "POLYGON((0 0, 1 0, 1 1, 0 0))"},
            Code.GEOMETRY_INVALID,
            "边界必须是 GeoJSON 几何对象",
        ),
        (
            {"boundary": {"type": "Point", "coordinates": [120.0, 29.2]}},
            Code.GEOMETRY_INVALID,
            "边界类型必须是 Polygon 或 MultiPolygon，不能是 Point",
        ),
        (
            {"boundary": {"type": "Polygon", "coordinates": []}},
            Code.GEOMETRY_INVALID,
            "边界缺少坐标",
        ),
        (
            {"boundary": polygon([120.0, 29.2], [120.1, 29.2], [120.0, 29.2])},
            Code.GEOMETRY_INVALID,
            "多边形的每个环至少需要4个坐标点",
        ),
        (
            {"boundary": polygon([120.0, 29.2], [120.1, 29.2], [120.1, 29.3], [120.0, 29.3])},
            Code.GEOMETRY_INVALID,
            "多边形的环未闭合：首尾坐标必须相同",
        ),
        (
            {"boundary": polygon(["120", 29.2], [120.1, 29.2], [120.1, 29.3], ["120", 29.2])},
            Code.GEOMETRY_INVALID,
            "坐标必须是 [经度, 纬度] 数字对",
        ),
        (
            {"boundary": polygon([NAN, 29.2], [120.1, 29.2], [120.1, 29.3], [NAN, 29.2])},
            Code.GEOMETRY_INVALID,
            "坐标必须是 [经度, 纬度] 数字对",
        ),
        (
            {"boundary": polygon([29.2, 120.0], [29.2, 120.1], [29.3, 120.1], [29.2, 120.0])},
            Code.GEOMETRY_INVALID,
            "坐标 [29.2, 120.0] 超出经纬度范围（GeoJSON 的顺序是 [经度, 纬度]）",
        ),
        (
            {"boundary": BOWTIE},
            Code.GEOMETRY_INVALID,
            "边界几何无效：Self-intersection[120.05 29.25]",
        ),
        (
            {"centre": (120.07, 29.30)},
            Code.CENTRE_INVALID,
            "中心点应为（纬度, 经度），纬度在 −90～90、经度在 −180～180 之间：(120.07, 29.3)",
        ),
    ],
)
def test_it_rejects_bad_input_and_writes_nothing(town, overrides, code, message):
    before = list(Region.objects.values_list("code", flat=True))
    with pytest.raises(RegionError) as caught:
        create_village(town, **overrides)
    assert (caught.value.code, caught.value.message) == (code, message)
    assert caught.value.status == 422
    assert list(Region.objects.values_list("code", flat=True)) == before


def test_it_rejects_a_duplicate_code(town):
    create_village(town)
    with pytest.raises(RegionError) as caught:
        create_village(town, name="另一个社区")
    assert (caught.value.code, caught.value.message) == (
        Code.CODE_DUPLICATE,
        "区域代码 330782001002 已存在",
    )
    assert Region.objects.filter(code="330782001002").count() == 1


def test_it_turns_a_lost_race_on_the_code_into_a_duplicate_error(town, monkeypatch):
    create_village(town)
    # Another request inserted the same code between the check and the INSERT.
    monkeypatch.setattr(services, "region_check", lambda **kwargs: None)
    with pytest.raises(RegionError) as caught:
        create_village(town, name="另一个社区")
    assert caught.value.code == Code.CODE_DUPLICATE
    assert list(Region.objects.filter(code="330782001002").values_list("name", flat=True)) == [
        "绣湖社区"
    ]


def test_it_rejects_a_parent_at_the_wrong_level(city):
    with pytest.raises(RegionError) as caught:
        region_create(
            code="330782001001",
            name="孝子祠社区",
            level=Level.VILLAGE,
            kind=Kind.COMMUNITY,
            parent=city,
        )
    assert (caught.value.code, caught.value.message) == (
        Code.LEVEL_MISMATCH,
        "上级“义乌市”是市，下级应为镇街，不能是村社",
    )
    assert Region.objects.count() == 1


def test_it_rejects_children_of_a_unit(west_grid):
    unit = region_create(
        code="330782001001001001",
        name="孝子祠巷",
        level=Level.UNIT,
        kind=Kind.LANE,
        parent=west_grid,
    )
    with pytest.raises(RegionError) as caught:
        region_create(
            code="330782001001001001001",
            name="1号",
            level=Level.UNIT,
            kind=Kind.BUILDING,
            parent=unit,
        )
    assert (caught.value.code, caught.value.message) == (
        Code.LEVEL_MISMATCH,
        "单元“孝子祠巷”下不能再设下级区域",
    )


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        ("330782001000", Code.PARENT_NOT_ALLOWED, "市级区域不能有上级"),
    ],
)
def test_it_rejects_a_city_with_a_parent(city, code, error, message):
    with pytest.raises(RegionError) as caught:
        region_create(code=code, name="某市", level=Level.CITY, kind=Kind.CITY, parent=city)
    assert (caught.value.code, caught.value.message) == (error, message)
    assert Region.objects.count() == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("330782000001", "市级代码应为6位县级行政区划代码加000000：330782000001"),
        ("000000000000", "市级代码应为6位县级行政区划代码加000000：000000000000"),
        ("3307820000", "市代码应为12位数字：3307820000"),
    ],
)
def test_it_checks_city_codes(db, code, message):
    with pytest.raises(RegionError) as caught:
        region_create(code=code, name="义乌市", level=Level.CITY, kind=Kind.CITY, parent=None)
    assert (caught.value.code, caught.value.message) == (Code.CODE_INVALID, message)
    assert not Region.objects.exists()


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        (
            "330783001000",
            Code.CODE_PREFIX,
            "代码应以上级“义乌市”的代码前缀 330782 开头：330783001000",
        ),
        ("330782001001", Code.CODE_INVALID, "镇街代码的最后3位应为000：330782001001"),
        ("330782000000", Code.CODE_INVALID, "代码第7–9位是本级序号，不能为000：330782000000"),
    ],
)
def test_it_checks_town_codes(city, code, error, message):
    with pytest.raises(RegionError) as caught:
        region_create(code=code, name="稠城街道", level=Level.TOWN, kind=Kind.STREET, parent=city)
    assert (caught.value.code, caught.value.message) == (error, message)
    assert Region.objects.count() == 1


@pytest.mark.parametrize(
    ("code", "kind", "error", "message"),
    [
        ("330782001001", Kind.GRID, Code.CODE_INVALID, "网格代码应为15位数字：330782001001"),
        (
            "330782001001000",
            Kind.GRID,
            Code.CODE_INVALID,
            "代码第13–15位是本级序号，不能为000：330782001001000",
        ),
        (
            "330782001002001",
            Kind.GRID,
            Code.CODE_PREFIX,
            "代码应以上级“孝子祠社区”的代码前缀 330782001001 开头：330782001002001",
        ),
        (
            "330782001001001",
            Kind.BUILDING,
            Code.KIND_INVALID,
            "类型“building”不适用于网格，应为 grid（网格）",
        ),
    ],
)
def test_it_checks_grid_codes(village, code, kind, error, message):
    with pytest.raises(RegionError) as caught:
        region_create(code=code, name="第一网格", level=Level.GRID, kind=kind, parent=village)
    assert (caught.value.code, caught.value.message) == (error, message)
    assert Region.objects.count() == 3


def test_region_check_writes_nothing(town):
    shape = region_check(
        code="330782001002",
        name="绣湖社区",
        level=Level.VILLAGE,
        kind=Kind.COMMUNITY,
        parent=town,
        boundary=VILLAGE_BOUNDARY,
    )
    assert shape.bounds == (120.02, 29.20, 120.04, 29.21)
    assert not Region.objects.filter(code="330782001002").exists()


def test_it_replaces_the_boundary_and_recomputes_the_centre(west_grid):
    stamp = west_grid.updated_at
    region_update_boundary(region=west_grid, boundary=rectangle(120.00, 29.20, 120.004, 29.21))
    west_grid.refresh_from_db()
    assert west_grid.boundary == rectangle(120.00, 29.20, 120.004, 29.21)
    assert west_grid.centre_lat == pytest.approx(29.205, abs=1e-12)
    assert west_grid.centre_lon == pytest.approx(120.002, abs=1e-12)
    assert west_grid.updated_at > stamp


def test_it_keeps_a_given_centre_when_replacing_the_boundary(west_grid):
    region_update_boundary(
        region=west_grid,
        boundary=rectangle(120.00, 29.20, 120.004, 29.21),
        centre=(29.201, 120.001),
    )
    west_grid.refresh_from_db()
    assert (west_grid.centre_lat, west_grid.centre_lon) == (29.201, 120.001)


def test_it_clears_the_boundary_but_keeps_the_centre(west_grid):
    region_update_boundary(region=west_grid, boundary=None)
    west_grid.refresh_from_db()
    assert west_grid.boundary is None
    assert west_grid.centre_lat == pytest.approx(29.205, abs=1e-12)


def test_a_bad_boundary_update_changes_nothing(west_grid):
    before = Region.objects.values().get(pk=west_grid.pk)
    with pytest.raises(RegionError) as caught:
        region_update_boundary(region=west_grid, boundary=BOWTIE)
    assert caught.value.code == Code.GEOMETRY_INVALID
    assert Region.objects.values().get(pk=west_grid.pk) == before


def test_it_renames_and_changes_the_kind(village):
    region_update(region=village, name="孝子祠村", kind=Kind.VILLAGE)
    village.refresh_from_db()
    assert (village.name, village.kind) == ("孝子祠村", Kind.VILLAGE)


def test_a_bad_update_changes_nothing(village):
    before = Region.objects.values().get(pk=village.pk)
    with pytest.raises(RegionError) as caught:
        region_update(region=village, name="孝子祠社区", kind=Kind.GRID)
    assert caught.value.code == Code.KIND_INVALID
    with pytest.raises(RegionError) as caught:
        region_update(region=village, name="", kind=Kind.COMMUNITY)
    assert caught.value.code == Code.NAME_INVALID
    assert Region.objects.values().get(pk=village.pk) == before
