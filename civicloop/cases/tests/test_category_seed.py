"""Structure of the 部件/事件 category seed (cases/data/categories.json). No database needed:
the file is checked as plain JSON, against the limits of the Category model it is loaded into."""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SEED = Path(__file__).resolve().parents[1] / "data" / "categories.json"

MAJOR_KEYS = {"kind", "code", "name", "children"}
MINOR_KEYS = {
    "code",
    "name",
    "pinyin",
    "keywords",
    "filing_standard",
    "closing_standard",
    "default_limits",
    "default_owner",
}
DEPARTMENTS = {"cgb", "hw", "yl", "sz", "jt", "sj", "hb", "zz", "jd", "sw"}
HOURS_PER_UNIT = {"working_hours": 1, "working_days": 8}
CODE = re.compile(r"\d{2}")
PINYIN = re.compile(r"[a-z]+")

COMPONENT_MAJORS = [
    "公用设施",
    "道路交通",
    "市容环境",
    "园林绿化",
    "房屋土地",
    "其他设施",
    "扩展部件",
]
EVENT_MAJORS = ["市容环境", "宣传广告", "施工管理", "突发事件", "街面秩序", "其他事件", "环境监管"]

# Field sizes of civicloop.cases.models.Category, which the loader writes into.
MAX_NAME, MAX_PINYIN, MAX_KEYWORDS, MAX_STANDARD = 50, 30, 200, 300


@cache
def seed() -> list[dict[str, Any]]:
    data = json.loads(SEED.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def majors(kind: str | None = None) -> list[dict[str, Any]]:
    return [major for major in seed() if kind is None or major["kind"] == kind]


def minors() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(major, minor) for major in seed() for minor in major["children"]]


def minor_ids() -> list[str]:
    return [f"{major['kind']}-{major['code']}{minor['code']}" for major, minor in minors()]


def find(kind: str, major_name: str, minor_name: str) -> dict[str, Any]:
    for major in majors(kind):
        if major["name"] == major_name:
            for minor in major["children"]:
                if minor["name"] == minor_name:
                    return minor
    raise AssertionError(f"{kind}/{major_name}/{minor_name} missing from the seed")


def han_count(text: str) -> int:
    return sum(unicodedata.name(char, "").startswith("CJK UNIFIED IDEOGRAPH") for char in text)


def limit_hours(limit: dict[str, Any]) -> int:
    return int(limit["value"]) * HOURS_PER_UNIT[limit["unit"]]


# --- major classes ----------------------------------------------------------------------------


def test_major_classes_have_exactly_the_expected_keys() -> None:
    for major in seed():
        assert set(major) == MAJOR_KEYS, major.get("name")
        assert major["kind"] in {"component", "event"}
        assert isinstance(major["children"], list) and major["children"], major["name"]


def test_major_classes_in_code_order() -> None:
    assert [m["name"] for m in majors("component")] == COMPONENT_MAJORS
    assert [m["name"] for m in majors("event")] == EVENT_MAJORS
    for kind in ("component", "event"):
        codes = [m["code"] for m in majors(kind)]
        assert codes == [f"{n:02d}" for n in range(1, len(codes) + 1)], kind


# --- codes ------------------------------------------------------------------------------------


def test_codes_are_two_digit_strings_unique_within_parent() -> None:
    for kind in ("component", "event"):
        major_codes = [m["code"] for m in majors(kind)]
        assert len(set(major_codes)) == len(major_codes), kind
    for major in seed():
        codes = [minor["code"] for minor in major["children"]]
        names = [minor["name"] for minor in major["children"]]
        assert len(set(codes)) == len(codes), major["name"]
        assert len(set(names)) == len(names), major["name"]
        for code in [major["code"], *codes]:
            assert isinstance(code, str) and CODE.fullmatch(code) and code != "00", code
        assert codes == sorted(codes), major["name"]


def test_full_codes_are_unique_per_kind() -> None:
    # The database constraint is unique (kind, full_code), full_code = 大类 code + 小类 code.
    full_codes = [(major["kind"], major["code"] + minor["code"]) for major, minor in minors()]
    assert len(set(full_codes)) == len(full_codes)


# --- minor classes ----------------------------------------------------------------------------


@pytest.mark.parametrize(("major", "minor"), minors(), ids=minor_ids())
def test_minor_class_fields(major: dict[str, Any], minor: dict[str, Any]) -> None:
    assert set(minor) == MINOR_KEYS
    assert isinstance(minor["name"], str) and 0 < len(minor["name"]) <= MAX_NAME
    keywords = minor["keywords"]
    assert isinstance(keywords, list) and keywords
    assert all(isinstance(word, str) and word.strip() == word != "" for word in keywords)
    assert len(set(keywords)) == len(keywords)
    assert len(" ".join(keywords)) <= MAX_KEYWORDS  # the loader joins them with spaces
    for key in ("filing_standard", "closing_standard"):
        assert isinstance(minor[key], str) and 0 < len(minor[key]) <= MAX_STANDARD
        assert han_count(minor[key]) > 0
    assert minor["default_owner"] in DEPARTMENTS


@pytest.mark.parametrize(("major", "minor"), minors(), ids=minor_ids())
def test_pinyin_initials(major: dict[str, Any], minor: dict[str, Any]) -> None:
    pinyin = minor["pinyin"]
    assert isinstance(pinyin, str) and PINYIN.fullmatch(pinyin), pinyin
    assert len(pinyin) == han_count(minor["name"]), minor["name"]
    assert len(pinyin) <= MAX_PINYIN


@pytest.mark.parametrize(
    ("kind", "major", "minor", "pinyin"),
    [
        ("event", "市容环境", "暴露垃圾", "bllj"),
        ("event", "市容环境", "积存垃圾渣土", "jcljzt"),
        ("event", "市容环境", "沙石堆放占道", "ssdfzd"),
        ("event", "宣传广告", "非法小广告", "ffxgg"),
        ("event", "宣传广告", "街头散发广告", "jtsfgg"),
        ("event", "环境监管", "恶臭异味", "ecyw"),
        ("component", "公用设施", "上水井盖", "ssjg"),
        ("component", "公用设施", "变压器(箱)", "byqx"),
        ("component", "园林绿化", "行道树", "xds"),
        ("component", "道路交通", "人行天桥", "rxtq"),
        ("component", "其他设施", "重大危险源", "zdwxy"),
    ],
)
def test_pinyin_of_polyphonic_and_example_names(
    kind: str, major: str, minor: str, pinyin: str
) -> None:
    assert find(kind, major, minor)["pinyin"] == pinyin


@pytest.mark.parametrize(("major", "minor"), minors(), ids=minor_ids())
def test_default_limits(major: dict[str, Any], minor: dict[str, Any]) -> None:
    limits = minor["default_limits"]
    assert set(limits) == {"normal", "urgent"}
    for limit in limits.values():
        assert set(limit) == {"value", "unit"}
        assert type(limit["value"]) is int and limit["value"] > 0
        assert limit["unit"] in HOURS_PER_UNIT
    # an urgent case never gets more time than an ordinary one
    assert limit_hours(limits["urgent"]) <= limit_hours(limits["normal"]), minor["name"]


# --- content the rest of the system relies on -------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "major", "minor"),
    [
        ("event", "市容环境", "暴露垃圾"),
        ("event", "市容环境", "垃圾满溢"),
        ("event", "市容环境", "积存垃圾渣土"),
        ("event", "市容环境", "沙石堆放占道"),
        ("event", "施工管理", "施工占道"),
        ("event", "宣传广告", "非法小广告"),
        ("event", "突发事件", "井盖缺失"),
        ("event", "街面秩序", "占道经营"),
        ("component", "园林绿化", "公园护栏"),
        ("component", "道路交通", "交通护栏"),
        ("component", "公用设施", "路灯"),
    ],
)
def test_examples_from_the_brief_are_present(kind: str, major: str, minor: str) -> None:
    assert find(kind, major, minor)["name"] == minor


@pytest.mark.parametrize(
    ("major", "minor", "normal"),
    [
        ("市容环境", "私搭乱建", {"value": 4, "unit": "working_hours"}),  # 停工
        ("市容环境", "暴露垃圾", {"value": 4, "unit": "working_hours"}),
        ("市容环境", "建筑垃圾", {"value": 4, "unit": "working_hours"}),
        ("市容环境", "积存垃圾渣土", {"value": 2, "unit": "working_days"}),  # 渣土堆
        ("市容环境", "道路不洁", {"value": 2, "unit": "working_hours"}),
        ("市容环境", "绿地脏乱", {"value": 4, "unit": "working_hours"}),
        ("市容环境", "绿地养护", {"value": 5, "unit": "working_days"}),
        ("突发事件", "道路积水", {"value": 4, "unit": "working_hours"}),
    ],
)
def test_published_time_limits_are_used(major: str, minor: str, normal: dict[str, Any]) -> None:
    """civic-loop.md §6.5, the published city table of 事件 立案/结案标准."""
    assert find("event", major, minor)["default_limits"]["normal"] == normal


def test_environment_group_for_the_monitoring_module() -> None:
    for name in ("超标排放", "数据异常"):
        assert find("event", "环境监管", name)["default_owner"] == "hb"
