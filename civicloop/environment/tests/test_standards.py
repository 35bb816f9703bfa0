"""The standards library: cells compared with environment-standards.md §1–§3, edition and
limit choice by date, build date, grade and applicability, and the loader's idempotency."""

from __future__ import annotations

from datetime import date

import pytest

from civicloop.environment import aqi
from civicloop.environment.models import Standard, StandardEdition, StandardKind, StandardLimit
from civicloop.environment.standards import (
    aqi_edition_for,
    edition_in_force,
    load_library,
    parse_value,
    standard_limit,
)
from civicloop.environment.tests.conftest import must

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("library")]


def cell(
    number: str, edition: str, table: str, name_part: str, grade: str, appl: str = "", period=None
):
    rows = StandardLimit.objects.filter(
        edition__standard__number=number,
        edition__edition=edition,
        table=table,
        pollutant_name__contains=name_part,
        grade=grade,
    )
    if appl:
        rows = rows.filter(applicability=appl)
    if period:
        rows = rows.filter(period=period)
    found = list(rows)
    assert len(found) >= 1, (number, table, name_part, grade, appl)
    return found[0]


# (standard, edition, table, pollutant, grade, applicability, low, high) from the note's tables.
NOTE_CELLS = [
    ("GB 8978", "1996", "表1", "总汞", "", "", None, 0.05),
    ("GB 8978", "1996", "表1", "六价铬", "", "", None, 0.5),
    ("GB 8978", "1996", "表1", "苯并(a)芘", "", "", None, 0.00003),
    ("GB 8978", "1996", "表2", "化学需氧量", "二级", "其他排污单位", None, 150),
    ("GB 8978", "1996", "表2", "色度", "二级", "染料工业", None, 180),
    ("GB 8978", "1996", "表4", "化学需氧量", "一级", "其他排污单位", None, 100),
    ("GB 8978", "1996", "表4", "化学需氧量", "三级", "其他排污单位", None, 500),
    ("GB 8978", "1996", "表4", "氨氮", "二级", "医药原料药、染料、石油化工工业", None, 50),
    ("GB 8978", "1996", "表4", "悬浮物", "二级", "其他排污单位", None, 150),
    ("GB 8978", "1996", "表4", "石油类", "一级", "一切排污单位", None, 5),
    ("GB 8978", "1996", "表4", "四氯化碳", "一级", "一切排污单位", None, 0.03),
    ("GB 8978", "1996", "表4", "pH", "二级", "一切排污单位", 6, 9),
    ("GB 18918", "2002", "表1", "化学需氧量", "一级A", "", None, 50),
    ("GB 18918", "2002", "表1", "化学需氧量", "三级", "", None, 120),
    ("GB 18918", "2002", "表1", "氨氮", "一级B", "水温≤12℃", None, 15),
    ("GB 18918", "2002", "表1", "总氮", "一级A", "", None, 15),
    ("GB 18918", "2002", "表2", "总汞", "", "", None, 0.001),
    ("GB 13271", "2014", "表1", "二氧化硫", "燃煤锅炉", "", None, 400),
    (
        "GB 13271",
        "2014",
        "表1",
        "二氧化硫",
        "燃煤锅炉",
        "广西、重庆、四川和贵州的燃煤锅炉",
        None,
        550,
    ),
    ("GB 13271", "2014", "表2", "氮氧化物", "燃气锅炉", "", None, 200),
    ("GB 13271", "2014", "表2", "颗粒物", "燃油锅炉", "", None, 30),
    ("GB 13271", "2014", "表3", "氮氧化物", "燃气锅炉", "重点地区", None, 150),
    ("GB 3095", "2012", "表1", "二氧化硫", "二级", "", None, 500, "hour"),
    ("GB 3095", "2012", "表1", "二氧化硫", "一级", "", None, 20, "year"),
    ("GB 3095", "2012", "表2", "氮氧化物", "二级", "", None, 250, "hour"),
    ("GB 3095", "2026", "表1（过渡期）", "PM2.5", "二级", "", None, 60, "day"),
    ("GB 3095", "2026", "表1（过渡期）", "PM10", "二级", "", None, 60, "year"),
    ("GB 3095", "2026", "表1", "PM10", "二级", "", None, 100, "day"),
    ("GB 3095", "2026", "表1", "二氧化氮", "二级", "", None, 50, "day"),
    ("GB 3095", "2026", "表2", "氮氧化物", "一级", "", None, 70, "day"),
    ("GB 3095", "2026", "表2（过渡期）", "氮氧化物", "一级", "", None, 100, "day"),
]


@pytest.mark.parametrize("item", NOTE_CELLS, ids=lambda item: "-".join(map(str, item[:5])))
def test_cells_match_the_note(item: tuple) -> None:
    number, edition, table, name, grade, appl, low, high, *period = item
    row = cell(number, edition, table, name, grade, appl, period[0] if period else None)
    assert (row.low, row.high) == (low, high)


def test_special_cells() -> None:
    alkyl = cell("GB 8978", "1996", "表1", "烷基汞", "")
    assert alkyl.not_detectable and alkyl.value_text == "不得检出"
    tp_old = StandardLimit.objects.get(
        edition__standard__number="GB 18918",
        pollutant__code="w21011",
        grade="一级A",
        built_before=date(2006, 1, 1),
    )
    assert tp_old.high == 1
    gas = cell("GB 13271", "2014", "表2", "颗粒物", "燃气锅炉")
    assert (gas.reference_o2, gas.period, gas.unit) == (3.5, "hour", "mg/m³")
    assert cell("GB 13271", "2014", "表1", "颗粒物", "燃煤锅炉").reference_o2 == 9
    assert cell("GB 13271", "2014", "表1", "林格曼", "燃煤锅炉").reference_o2 is None
    chlorine = cell(
        "GB 8978", "1996", "表4", "总余氯", "二级", "医院、兽医院及医疗机构含病原体污水"
    )
    assert (chlorine.low, chlorine.high) == (3, None)
    o3 = StandardLimit.objects.get(
        edition__standard__number="GB 3095",
        edition__edition="2012",
        pollutant__code="a05024",
        grade="二级",
        period="8h",
    )
    assert o3.high == 160


def test_no_cell_is_made_for_a_dash() -> None:
    assert not StandardLimit.objects.filter(
        edition__standard__number="GB 18918", pollutant__code="w21001", grade="二级"
    ).exists()


def test_edition_chosen_by_the_date_of_the_data() -> None:
    gb3095 = Standard.objects.get(number="GB 3095")
    assert must(edition_in_force(gb3095, date(2026, 2, 28))).edition == "2012"
    assert must(edition_in_force(gb3095, date(2026, 3, 1))).edition == "2026"
    assert edition_in_force(gb3095, date(2015, 12, 31)) is None

    def pm25(on: date) -> float | None:
        row = standard_limit(
            standard=gb3095, pollutant_code="a34004", on=on, grade="二级", period="day"
        )
        return row.high if row else None

    assert [pm25(date(2025, 6, 1)), pm25(date(2026, 6, 1)), pm25(date(2031, 6, 1))] == [
        75,
        60,
        50,
    ]


def test_hj633_editions_match_the_aqi_module() -> None:
    assert aqi_edition_for(date(2026, 2, 28)) == aqi.Edition.HJ633_2012
    assert aqi_edition_for(date(2026, 3, 1)) == aqi.Edition.HJ633_2026
    new = StandardEdition.objects.get(standard__number="HJ 633", edition="2026")
    assert new.effective_from == aqi.EDITION_2026_FROM


def test_limit_by_build_date_grade_and_applicability() -> None:
    gb8978 = Standard.objects.get(number="GB 8978")

    def cod(**kw) -> StandardLimit:
        return must(
            standard_limit(standard=gb8978, pollutant_code="w01018", on=date(2026, 11, 1), **kw)
        )

    assert cod(grade="一级", built_on=date(1995, 5, 1)).table == "表2"
    assert cod(grade="一级", built_on=date(2005, 5, 1)).table == "表4"
    assert cod(grade="二级").high == 150  # default row, new units
    assert cod(grade="二级", applicability="染料工业").high == 150  # no exact row: the default one
    assert (
        cod(
            grade="二级",
            applicability="甜菜制糖、合成脂肪酸、湿法纤维板、染料、洗毛、有机磷农药工业",
        ).high
        == 200
    )
    boiler = Standard.objects.get(number="GB 13271")
    nox = must(
        standard_limit(
            standard=boiler,
            pollutant_code="a21002",
            on=date(2026, 1, 1),
            grade="燃气锅炉",
            built_on=date(2010, 1, 1),
        )
    )
    assert nox.high == 400


def test_parse_value() -> None:
    assert parse_value(5) == (None, 5.0, False)
    assert parse_value("6-9") == (6.0, 9.0, False)
    assert parse_value("<0.5") == (None, 0.5, False)
    assert parse_value(">3") == (3.0, None, False)
    assert parse_value("ND") == (None, None, True)
    assert parse_value(None) is None


def test_loading_again_changes_nothing_and_keeps_administrators_standards() -> None:
    local = Standard.objects.create(
        number="DB33/ 9999", name="地方标准（测试）", kind=StandardKind.LOCAL, medium="water"
    )
    edition = StandardEdition.objects.create(
        standard=local, edition="2013", title="地方标准", effective_from=date(2014, 1, 1)
    )
    StandardLimit.objects.create(
        edition=edition,
        table="表1",
        pollutant_name="氨氮",
        grade="",
        period="day",
        high=8,
        unit="mg/L",
    )
    before = StandardLimit.objects.count()
    summary = load_library()
    assert StandardLimit.objects.count() == before
    assert summary.limits == before - 1
    assert StandardLimit.objects.filter(edition=edition).count() == 1
    assert not Standard.objects.get(pk=local.pk).is_builtin


def test_reload_command() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("env_standards_load", stdout=out)
    assert out.getvalue().startswith("standards.json: pollutants=33 standards=5 editions=7")
