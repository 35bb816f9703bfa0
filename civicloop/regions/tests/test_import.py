from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from civicloop.__main__ import main
from civicloop.regions.models import Region
from civicloop.regions.tests.conftest import rectangle

BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[120.0, 29.2], [120.1, 29.3], [120.1, 29.2], [120.0, 29.3], [120.0, 29.2]]],
}


def feature(
    code: Any,
    name: str | None,
    level: str,
    kind: str,
    parent_code: str | None,
    geometry: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    properties = {"code": code, "name": name, "level": level, "kind": kind}
    if parent_code is not None:
        properties["parent_code"] = parent_code
    return {"type": "Feature", "properties": properties | extra, "geometry": geometry}


CITY = feature("330782000000", "义乌市", "city", "city", None, rectangle(120.0, 29.2, 120.2, 29.4))
TOWN = feature(
    "330782001000",
    "稠城街道",
    "town",
    "street",
    "330782000000",
    rectangle(120.0, 29.2, 120.1, 29.3),
)
VILLAGE = feature(
    "330782001001",
    "孝子祠社区",
    "village",
    "community",
    "330782001000",
    rectangle(120.0, 29.2, 120.02, 29.21),
)
GRID = feature(
    "330782001001001",
    "孝子祠社区第一网格",
    "grid",
    "grid",
    "330782001001",
    rectangle(120.0, 29.2, 120.01, 29.21),
)


def write(tmp_path: Path, features: list[Any]) -> Path:
    path = tmp_path / "regions.geojson"
    collection = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def run(path: Path, *options: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_regions", str(path), *options, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(path: Path, *options: str) -> tuple[str, str, CommandError]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_regions", str(path), *options, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), caught.value


def test_it_imports_a_good_file_in_any_order(db, tmp_path):
    out, err = run(write(tmp_path, [GRID, VILLAGE, CITY, TOWN]))
    assert out == "共 4 个要素：新建 4，更新 0，未变 0，失败 0\n"
    assert err == ""
    assert list(Region.objects.values_list("path", "name")) == [
        ("/330782000000/", "义乌市"),
        ("/330782000000/330782001000/", "稠城街道"),
        ("/330782000000/330782001000/330782001001/", "孝子祠社区"),
        ("/330782000000/330782001000/330782001001/330782001001001/", "孝子祠社区第一网格"),
    ]
    grid = Region.objects.get(code="330782001001001")
    assert grid.boundary == rectangle(120.0, 29.2, 120.01, 29.21)
    assert grid.parent == Region.objects.get(code="330782001001")


def test_it_uses_the_centre_given_and_accepts_a_missing_geometry(db, tmp_path):
    city = feature(
        "330782000000",
        "义乌市",
        "city",
        "city",
        None,
        None,
        centre_lat=29.3069,
        centre_lon=120.0751,
    )
    town = feature(330782001000, "稠城街道", "town", "street", "330782000000")
    run(write(tmp_path, [city, town]))
    city_row = Region.objects.get(code="330782000000")
    assert (city_row.boundary, city_row.centre_lat, city_row.centre_lon) == (
        None,
        29.3069,
        120.0751,
    )
    assert Region.objects.get(code="330782001000").name == "稠城街道"  # numeric code accepted


BAD_FILE = [
    CITY,  # 1
    feature("330782001000", None, "town", "street", "330782000000"),  # 2: no name
    feature("330782002000", "江东街道", "town", "street", "330782000000"),  # 3
    feature("330782009001", "某社区", "village", "community", "330782009000"),  # 4: no parent
    feature("330782002001001", "东洲社区第一网格", "grid", "grid", "330782002001", BOWTIE),  # 5
    feature("330782002000", "江东街道", "town", "street", "330782000000"),  # 6: duplicate of 3
    feature("330782003001", "凤凰社区", "village", "community", "330782000000"),  # 7: wrong level
    feature("330782004000", "北苑街道", "district", "street", "330782000000"),  # 8: unknown level
    feature(None, "无代码", "town", "street", "330782000000"),  # 9: no code
    feature("330782002001", "东洲社区", "village", "community", "330782002000"),  # 10
    feature("330782001001", "孝子祠社区", "village", "community", "330782001000"),  # 11
    "not a feature",  # 12
    feature("330782002001002", "东洲社区第二网格", "grid", "grid", "330782002001"),  # 13
    feature("330782005000", "后宅街道", "town", "community", "330782000000"),  # 14: kind
]  # fmt: skip


def test_it_reports_every_bad_feature_and_imports_the_good_ones(db, tmp_path):
    out, err, error = run_failing(write(tmp_path, BAD_FILE))
    assert err.splitlines() == [
        "第 2 个要素（代码 330782001000）：缺少属性：name",
        "第 4 个要素（代码 330782009001）：未知上级代码 330782009000：数据库和文件中都没有",
        "第 5 个要素（代码 330782002001001）：边界几何无效：Self-intersection[120.05 29.25]",
        "第 6 个要素（代码 330782002000）：代码与第 3 个要素重复",
        "第 7 个要素（代码 330782003001）：上级“义乌市”是市，下级应为镇街，不能是村社",
        "第 8 个要素（代码 330782004000）：未知层级“district”，"
        "应为 city、town、village、grid、unit 之一",
        "第 9 个要素（代码 —）：缺少属性：code",
        "第 11 个要素（代码 330782001001）：上级 330782001000 未能导入，本要素随之跳过",
        "第 12 个要素（代码 —）：不是 GeoJSON Feature 对象",
        "第 14 个要素（代码 330782005000）：类型“community”不适用于镇街，"
        "应为 street（街道）、town（镇）",
    ]
    assert out == "共 14 个要素：新建 4，更新 0，未变 0，失败 10\n"
    assert (str(error), error.returncode) == ("10 个要素导入失败", 1)
    assert list(Region.objects.values_list("code", flat=True)) == [
        "330782000000",
        "330782002000",
        "330782002001",
        "330782002001002",
    ]


# The real command line closes every connection when it ends, which would end a test's
# transaction on PostgreSQL: these run in transactional tests (tables are flushed afterwards).


def test_the_exit_status_is_non_zero_when_a_feature_fails(transactional_db, tmp_path, capsys):
    path = write(tmp_path, [CITY, feature("330782001000", "", "town", "street", "330782000000")])
    with pytest.raises(SystemExit) as caught:
        main(["import_regions", str(path), "--skip-checks"])
    assert caught.value.code == 1
    assert capsys.readouterr().err == (
        "第 2 个要素（代码 330782001000）：缺少属性：name\nCommandError: 1 个要素导入失败\n"
    )
    assert list(Region.objects.values_list("code", flat=True)) == ["330782000000"]


def test_the_exit_status_is_zero_when_all_features_import(transactional_db, tmp_path, capsys):
    assert main(["import_regions", str(write(tmp_path, [CITY, TOWN])), "--skip-checks"]) == 0
    assert capsys.readouterr().out == "共 2 个要素：新建 2，更新 0，未变 0，失败 0\n"
    assert list(Region.objects.values_list("code", flat=True)) == ["330782000000", "330782001000"]


def test_a_dry_run_checks_everything_and_writes_nothing(db, tmp_path):
    out, _ = run(write(tmp_path, [GRID, VILLAGE, CITY, TOWN]), "--dry-run")
    assert out == "共 4 个要素：新建 4，更新 0，未变 0，失败 0\n试运行：没有写入数据库\n"
    assert not Region.objects.exists()


def test_a_dry_run_reports_failures_too(db, tmp_path):
    out, err, _ = run_failing(write(tmp_path, [CITY, BAD_FILE[1]]), "--dry-run")
    assert err == "第 2 个要素（代码 330782001000）：缺少属性：name\n"
    assert out == "共 2 个要素：新建 1，更新 0，未变 0，失败 1\n试运行：没有写入数据库\n"
    assert not Region.objects.exists()


def test_all_or_nothing_rolls_back_the_good_features(db, tmp_path):
    out, _, error = run_failing(write(tmp_path, [CITY, TOWN, BAD_FILE[3]]), "--all-or-nothing")
    assert out == (
        "共 3 个要素：新建 2，更新 0，未变 0，失败 1\n"
        "有要素失败，已按 --all-or-nothing 全部回滚，没有写入数据库\n"
    )
    assert error.returncode == 1
    assert not Region.objects.exists()


def test_existing_codes_fail_without_update(db, tmp_path):
    path = write(tmp_path, [CITY, TOWN])
    run(path)
    out, err, _ = run_failing(path)
    assert err.splitlines() == [
        "第 1 个要素（代码 330782000000）：区域代码 330782000000 已存在",
        "第 2 个要素（代码 330782001000）：区域代码 330782001000 已存在",
        "提示：要更新数据库中已有的区域，请加 --update",
    ]
    assert out == "共 2 个要素：新建 0，更新 0，未变 0，失败 2\n"


def test_update_changes_names_and_boundaries(db, tmp_path):
    run(write(tmp_path, [CITY, TOWN, VILLAGE]))
    renamed = feature(
        "330782001000",
        "稠城街道（新）",
        "town",
        "street",
        "330782000000",
        rectangle(120.0, 29.2, 120.08, 29.3),
    )
    out, _ = run(write(tmp_path, [CITY, renamed, VILLAGE]), "--update")
    assert out == "共 3 个要素：新建 0，更新 1，未变 2，失败 0\n"
    town = Region.objects.get(code="330782001000")
    assert (town.name, town.boundary) == ("稠城街道（新）", rectangle(120.0, 29.2, 120.08, 29.3))
    assert town.centre_lon == pytest.approx(120.04, abs=1e-12)


def test_a_failed_update_leaves_the_region_as_it_was(db, tmp_path):
    run(write(tmp_path, [CITY, TOWN]))
    before = Region.objects.values().get(code="330782001000")
    broken = feature("330782001000", "稠城街道（新）", "town", "street", "330782000000", BOWTIE)
    _, err, _ = run_failing(write(tmp_path, [CITY, broken]), "--update")
    assert (
        err == "第 2 个要素（代码 330782001000）：边界几何无效：Self-intersection[120.05 29.25]\n"
    )
    assert Region.objects.values().get(code="330782001000") == before


def test_update_cannot_move_a_region(db, tmp_path):
    jiangdong = feature("330782002000", "江东街道", "town", "street", "330782000000")
    run(write(tmp_path, [CITY, TOWN, jiangdong, VILLAGE]))
    moved = feature("330782001001", "孝子祠社区", "village", "community", "330782002000")
    _, err, _ = run_failing(write(tmp_path, [moved]), "--update")
    assert err == (
        "第 1 个要素（代码 330782001001）：已有区域的层级或上级与文件不同；导入不能移动区域\n"
    )
    assert Region.objects.get(code="330782001001").parent.code == "330782001000"


NOT_A_COLLECTION = (
    "文件必须是 GeoJSON FeatureCollection：type 为 FeatureCollection，含 features 数组"
)


@pytest.mark.parametrize(
    "content", ['{"type": "Feature"}', '{"type": "FeatureCollection", "features": {}}']
)
def test_it_rejects_files_that_are_not_feature_collections(db, tmp_path, content):
    path = tmp_path / "bad.geojson"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("import_regions", str(path))
    assert str(caught.value) == NOT_A_COLLECTION


def test_it_rejects_a_file_that_is_not_json(db, tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text("[1, 2", encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("import_regions", str(path))
    assert str(caught.value) == (
        f"{path} 不是 UTF-8 编码的有效 JSON：Expecting ',' delimiter: line 1 column 6 (char 5)"
    )


def test_it_rejects_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError) as caught:
        call_command("import_regions", str(tmp_path / "none.geojson"))
    assert str(caught.value) == f"找不到文件：{tmp_path / 'none.geojson'}"


def test_it_rejects_a_directory(db, tmp_path):
    with pytest.raises(CommandError) as caught:
        call_command("import_regions", str(tmp_path))
    assert str(caught.value) == f"无法读取 {tmp_path}：Is a directory"
