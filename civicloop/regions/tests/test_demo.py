from __future__ import annotations

import io
import json
from itertools import combinations
from typing import Any

import pytest
import shapely
from django.core.management import call_command
from shapely.geometry import shape

from civicloop.regions.data import yiwu
from civicloop.regions.demo import GEOJSON_PATH, export_geojson, load_yiwu_regions
from civicloop.regions.lookup import locate, locate_town, locate_village
from civicloop.regions.models import Kind, Level, Region
from civicloop.regions.selectors import region_get, towns

TINY_AREA = 1e-12  # square degrees: about 0.01 m²

TOWN_NAMES = [
    "稠城街道",
    "江东街道",
    "稠江街道",
    "北苑街道",
    "后宅街道",
    "城西街道",
    "廿三里街道",
    "福田街道",
    "佛堂镇",
    "赤岸镇",
    "义亭镇",
    "上溪镇",
    "苏溪镇",
    "大陈镇",
]


@pytest.fixture
def yiwu_map(db: None) -> dict[str, int]:
    return load_yiwu_regions()


def test_it_creates_the_whole_map(yiwu_map):
    assert yiwu_map == {"created": 251, "unchanged": 0}
    counts = {level: Region.objects.filter(level=level).count() for level in Level}
    assert counts == {
        Level.CITY: 1,
        Level.TOWN: 14,
        Level.VILLAGE: 60,
        Level.GRID: 170,
        Level.UNIT: 6,
    }
    assert counts[Level.VILLAGE] == sum(len(town.villages) for town in yiwu.TOWNS)
    assert counts[Level.GRID] == sum(yiwu.grid_count(v) for t in yiwu.TOWNS for v in t.villages)


def test_the_city_is_yiwu(yiwu_map):
    city = region_get("330782000000")
    assert (city.name, city.level, city.kind, city.path) == (
        "义乌市",
        Level.CITY,
        Kind.CITY,
        "/330782000000/",
    )
    assert (city.centre_lat, city.centre_lon) == (29.3069, 120.0751)


def test_there_are_fourteen_towns_with_their_codes(yiwu_map):
    rows = list(towns().values_list("code", "name", "kind"))
    assert [name for _, name, _ in rows] == TOWN_NAMES
    assert [code for code, _, _ in rows] == [
        "330782001000", "330782002000", "330782003000", "330782004000", "330782005000",
        "330782006000", "330782007000", "330782008000", "330782100000", "330782101000",
        "330782103000", "330782104000", "330782105000", "330782106000",
    ]  # fmt: skip
    assert [kind for _, _, kind in rows] == [Kind.STREET] * 8 + [Kind.TOWN] * 6


SEATS = {"稠城街道": (29.306, 120.075), "佛堂镇": (29.193, 120.033), "大陈镇": (29.475, 120.17)}

NAMED_VILLAGES = {
    "孝子祠社区": "稠城街道",
    "绣湖社区": "稠城街道",
    "词林社区": "稠城街道",
    "银苑社区": "稠城街道",
    "金麟社区": "北苑街道",
    "王店村": "江东街道",
    "益公山村": "城西街道",
    "何斯路村": "城西街道",
    "下骆宅村": "福田街道",
    "倍磊村": "佛堂镇",
    "李祖村": "后宅街道",
}


def test_towns_are_centred_on_their_seats(yiwu_map):
    for town, (lat, lon) in SEATS.items():
        region = Region.objects.get(name=town)
        assert (region.centre_lat, region.centre_lon) == (lat, lon)
        assert locate_town(lat, lon) == region


def test_named_villages_are_in_their_towns(yiwu_map):
    rows = Region.objects.filter(name__in=NAMED_VILLAGES).values_list(
        "name", "level", "parent__name"
    )
    assert sorted(rows) == sorted((v, Level.VILLAGE, t) for v, t in NAMED_VILLAGES.items())


def test_communities_and_villages_use_their_code_ranges(yiwu_map):
    for code, kind in Region.objects.at_level(Level.VILLAGE).values_list("code", "kind"):
        sequence = int(code[-3:])
        assert (sequence < 200) == (kind == Kind.COMMUNITY), code


def test_every_village_has_two_to_four_named_grids(yiwu_map):
    village = Region.objects.get(name="孝子祠社区")
    assert list(village.children.values_list("code", "name")) == [
        ("330782001001001", "孝子祠社区第一网格"),
        ("330782001001002", "孝子祠社区第二网格"),
        ("330782001001003", "孝子祠社区第三网格"),
    ]
    for village in Region.objects.at_level(Level.VILLAGE):
        assert 2 <= village.children.count() <= 4, village.name


def test_units_lie_in_their_grids(yiwu_map):
    units = Region.objects.at_level(Level.UNIT).select_related("parent")
    assert sorted((u.name, u.kind) for u in units) == sorted((u.name, u.kind) for u in yiwu.UNITS)
    for unit in units:
        assert shape(unit.parent.boundary).covers(shape(unit.boundary)), unit.name


def test_loading_twice_creates_nothing(yiwu_map):
    before = list(Region.objects.values_list("code", "updated_at"))
    assert load_yiwu_regions() == {"created": 0, "unchanged": 251}
    assert list(Region.objects.values_list("code", "updated_at")) == before


def test_every_grid_centre_locates_to_its_grid(yiwu_map):
    for grid in Region.objects.at_level(Level.GRID):
        assert locate(grid.centre_lat, grid.centre_lon) == grid, grid.name


def test_every_village_centre_locates_to_its_village(yiwu_map):
    for village in Region.objects.at_level(Level.VILLAGE):
        assert locate_village(village.centre_lat, village.centre_lon) == village, village.name


def test_points_outside_the_city_are_in_no_grid(yiwu_map):
    assert locate(29.30, 119.70) is None  # 兰溪 side
    assert locate(29.60, 120.15) is None  # 诸暨 side
    assert locate(30.27, 120.15) is None  # 杭州


def test_grids_do_not_overlap(yiwu_map):
    grids = {
        code: shape(b)
        for code, b in Region.objects.at_level(Level.GRID).values_list("code", "boundary")
    }
    tree = shapely.STRtree(list(grids.values()))
    shapes = list(grids.values())
    pairs = {
        tuple(sorted(pair))
        for pair in zip(*tree.query(shapes, predicate="intersects"), strict=True)
    }
    overlaps = [shapes[a].intersection(shapes[b]).area for a, b in pairs if a != b]
    assert len(overlaps) > 170  # neighbours do touch
    assert max(overlaps) < TINY_AREA


def test_each_level_is_the_union_of_the_one_below(yiwu_map):
    parents = Region.objects.exclude(level__in=[Level.GRID, Level.UNIT])
    for parent in parents:
        children = [shape(c.boundary) for c in parent.children.all()]
        union = shapely.union_all(children)
        assert union.symmetric_difference(shape(parent.boundary)).area < TINY_AREA, parent.name
        for a, b in combinations(children, 2):
            assert a.intersection(b).area < TINY_AREA, parent.name


def test_importing_the_geojson_file_gives_the_same_tree(db):
    call_command("import_regions", str(GEOJSON_PATH), stdout=io.StringIO())
    imported = _tree()
    for level in reversed(Level):
        Region.objects.filter(level=level).delete()
    load_yiwu_regions()
    loaded = _tree()
    assert [row[:-1] for row in imported] == [row[:-1] for row in loaded]
    for a, b in zip(imported, loaded, strict=True):
        assert shape(a[-1]).equals_exact(shape(b[-1]), tolerance=1e-9), a[0]


def test_the_geojson_file_is_up_to_date(tmp_path):
    fresh = json.loads(export_geojson(tmp_path / "yiwu.geojson").read_text(encoding="utf-8"))
    committed = json.loads(GEOJSON_PATH.read_text(encoding="utf-8"))
    assert [_properties(f) for f in committed["features"]] == [
        _properties(f) for f in fresh["features"]
    ]
    for old, new in zip(committed["features"], fresh["features"], strict=True):
        assert shape(old["geometry"]).equals_exact(shape(new["geometry"]), tolerance=1e-9)


def _tree() -> list[tuple[Any, ...]]:
    rows = Region.objects.order_by("path").values_list(
        "code",
        "name",
        "level",
        "kind",
        "parent__code",
        "path",
        "centre_lat",
        "centre_lon",
        "boundary",
    )
    # Every demo region has a centre; rounding hides last-bit differences between GEOS builds.
    return [(*row[:6], round(row[6] or 0, 9), round(row[7] or 0, 9), row[8]) for row in rows]


def _properties(feature: dict[str, Any]) -> dict[str, Any]:
    properties = dict(feature["properties"])
    properties["centre_lat"] = round(properties["centre_lat"], 9)
    properties["centre_lon"] = round(properties["centre_lon"], 9)
    return properties


def test_the_command_loads_the_map(db):
    out = io.StringIO()
    call_command("yiwu_regions", stdout=out)
    call_command("yiwu_regions", stdout=out)
    assert out.getvalue() == (
        "义乌演示区划：新建 251 个，已存在 0 个\n义乌演示区划：新建 0 个，已存在 251 个\n"
    )


def test_the_command_exports_the_map(db, tmp_path):
    out = io.StringIO()
    call_command("yiwu_regions", "--export", str(tmp_path / "map.geojson"), stdout=out)
    assert out.getvalue() == f"已写出 {tmp_path / 'map.geojson'}\n"
    collection = json.loads((tmp_path / "map.geojson").read_text(encoding="utf-8"))
    assert (collection["type"], len(collection["features"])) == ("FeatureCollection", 251)
    assert not Region.objects.exists()
