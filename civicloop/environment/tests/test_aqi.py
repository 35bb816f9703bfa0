"""AQI per HJ 633: every row of the national platform sample, the worked examples of
environment-standards.md §1.9, the breakpoint cells of §1.2 and the CLI."""

from __future__ import annotations

import json
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from civicloop.environment import aqi
from civicloop.environment.aqi import Edition, Period

SAMPLE = Path(__file__).resolve().parent / "data" / "cnemc_realtime_sample.json"
E12, E26 = Edition.HJ633_2012, Edition.HJ633_2026


def _rows() -> list[dict[str, str]]:
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return [feature["properties"] for feature in data["features"]]


def _published(row: dict[str, str]) -> tuple[int | None, str, str]:
    value = None if row["aqi"] == "-;" else int(row["aqi"])
    return value, row["primarypollutant"], row["quality"]


def _ours(row: dict[str, str]) -> tuple[int | None, str, str]:
    # The feed's `o3_24h` is the current-hour O3 (its O3 columns are swapped, §1.8).
    values = {
        "so2": row["so2"],
        "no2": row["no2"],
        "co": row["co"],
        "o3": row["o3_24h"],
        "pm10": row["pm10"],
        "pm25": row["pm2_5"],
    }
    result = aqi.hourly_aqi(E12, values, so2_24h=row["so2_24h"])
    primary = ",".join(result.primary_names) or "-;"
    category = result.level.category if result.level else "-;"
    return result.aqi, primary, category


def test_every_row_of_the_national_platform_sample_is_reproduced() -> None:
    rows = _rows()
    assert len(rows) == 600
    mismatches = [
        (row["stationcode"], row["timepoint"], _published(row), _ours(row))
        for row in rows
        if _published(row) != _ours(row)
    ]
    assert mismatches == []


def test_the_sample_covers_missing_pollutants_ties_and_every_category() -> None:
    rows = _rows()
    assert sum(row["aqi"] == "-;" for row in rows) == 16
    assert any("," in row["primarypollutant"] for row in rows)
    assert {row["quality"] for row in rows} >= {"优", "良", "轻度污染", "中度污染", "重度污染"}
    with_gaps = [r for r in rows if r["aqi"] != "-;" and "-;" in (r["pm10"], r["so2"], r["co"])]
    assert with_gaps


HOURLY_2012_CASES = [
    # (inputs, expected IAQIs in so2/no2/pm10/co/o3/pm25 order, AQI, primary) from §1.9
    (
        {"pm25": 16, "pm10": 88, "co": 0.2, "so2": 3, "no2": 11, "o3": 75},
        {"pm25": 23, "pm10": 69, "co": 2, "so2": 1, "no2": 6, "o3": 24},
        69,
        ("pm10",),
    ),
    (
        {"pm25": 35, "pm10": 50, "so2": 150, "no2": 100, "co": 5, "o3": 160},
        {"pm25": 50, "pm10": 50, "so2": 50, "no2": 50, "co": 50, "o3": 50},
        50,
        (),
    ),
    (
        {"pm25": 250, "pm10": 350, "so2": 650, "no2": 700, "co": 35, "o3": 300},
        {"pm25": 300, "pm10": 200, "so2": 150, "no2": 150, "co": 150, "o3": 150},
        300,
        ("pm25",),
    ),
    (
        {"so2": 1, "no2": 13, "co": 0.8, "o3": 164, "pm10": 45, "pm25": 34},
        {"so2": 1, "no2": 7, "co": 8, "o3": 55, "pm10": 45, "pm25": 49},
        55,
        ("o3",),
    ),
]


@pytest.mark.parametrize(("values", "iaqi", "expected", "primary"), HOURLY_2012_CASES)
def test_worked_hourly_examples(
    values: dict[str, float], iaqi: dict[str, int], expected: int, primary: tuple[str, ...]
) -> None:
    result = aqi.hourly_aqi(E12, values)
    assert result.iaqi == {key: iaqi[key] for key in result.iaqi}
    assert result.aqi == expected
    assert result.primary == primary


def test_ceiling_rounding_not_half_up_nor_truncation() -> None:
    # PM2.5 56 µg/m³: 76.25 → 77 (go-aqi truncates to 76; half-up gives 76 too).
    result = aqi.hourly_aqi(E12, {"pm25": 56, "pm10": 75})
    assert result.iaqi["pm25"] == 77
    assert result.aqi == 77


def test_so2_uses_the_one_hour_column_in_real_time() -> None:
    # 锦州天安街道: SO2 154 µg/m³ 1-hour → 51 (the 24-hour column would give 101).
    result = aqi.hourly_aqi(E12, {"so2": 154, "no2": 20, "pm25": 10})
    assert result.iaqi["so2"] == 51
    assert result.primary == ("so2",)


def test_equal_iaqis_are_both_primary() -> None:
    result = aqi.hourly_aqi(E12, {"pm10": 69, "pm25": 43})
    assert result.iaqi["pm10"] == result.iaqi["pm25"] == 60
    assert result.primary == ("pm10", "pm25")
    assert result.primary_names == ["颗粒物(PM10)", "细颗粒物(PM2.5)"]


def test_severe_pollution_and_missing_pollutant() -> None:
    severe = aqi.hourly_aqi(E12, {"pm25": 283, "pm10": 356, "co": 4.1})
    assert severe.aqi == 333
    assert severe.level is not None and severe.level.category == "严重污染"
    missing_pm10 = aqi.hourly_aqi(E12, {"co": 8.5, "so2": 5, "no2": 10, "o3": 20, "pm25": 10})
    assert missing_pm10.aqi == 85
    assert missing_pm10.missing == ("pm10",)
    assert missing_pm10.publishable  # 2012 publishes what it has


def test_pm_breakpoints_changed_in_2026() -> None:
    assert [aqi.hourly_aqi(E26, {"pm25": c}).aqi for c in (60, 75, 115)] == [100, 114, 150]
    assert [aqi.hourly_aqi(E26, {"pm10": c}).aqi for c in (120, 150)] == [100, 112]
    assert aqi.hourly_aqi(E12, {"pm25": 75}).aqi == 100
    assert aqi.hourly_aqi(E12, {"pm10": 150}).aqi == 100


def test_daily_example_with_the_correct_so2_24h_column() -> None:
    # aqi-hub's own test expects 50 here; HJ 633 表1 gives SO2 24-hour 150 → IAQI 100.
    values = {"pm25": 35, "pm10": 50, "so2": 150, "no2": 40, "co": 2, "o3_8h": 100}
    result = aqi.daily_aqi(E12, values)
    assert result.iaqi["so2"] == 100
    assert result.aqi == 100
    assert result.primary == ("so2",)


def test_daily_2026_pm25_60_is_100() -> None:
    result = aqi.daily_aqi(E26, {"pm25": 60, "no2": 40, "pm10": 80, "o3_8h": 100})
    assert result.aqi == 100
    assert result.primary == ("pm25",)
    assert aqi.daily_aqi(E12, {"pm25": 60, "no2": 40}).iaqi["pm25"] == 82


def test_the_two_above_800_rules_per_edition() -> None:
    hourly_2012 = aqi.hourly_aqi(E12, {"so2": 900}, so2_24h=300)
    assert hourly_2012.iaqi["so2"] == 124  # 123.08 rounded up, from the 24-hour column
    assert aqi.hourly_aqi(E12, {"so2": 900}).iaqi["so2"] is None  # no 24-hour mean given
    assert aqi.hourly_aqi(E26, {"so2": 900}).iaqi["so2"] == 200
    daily_2012 = aqi.daily_aqi(E12, {"o3_8h": 850, "o3": 900})
    assert daily_2012.iaqi["o3_8h"] == 350  # from the O3 1-hour value
    assert aqi.daily_aqi(E26, {"o3_8h": 850}).iaqi["o3_8h"] == 300


def test_above_the_last_breakpoint_is_500_and_flagged() -> None:
    result = aqi.hourly_aqi(E26, {"pm25": 612})
    assert result.aqi == 500
    assert result.over_range == ("pm25",)


def test_2026_publishes_an_incomplete_set_only_above_100() -> None:
    assert not aqi.hourly_aqi(E26, {"pm25": 60, "pm10": 40}).publishable
    assert aqi.hourly_aqi(E26, {"pm25": 80, "pm10": 40}).publishable
    full = {"so2": 5, "no2": 20, "co": 0.5, "o3": 60, "pm10": 40, "pm25": 20}
    assert aqi.hourly_aqi(E26, full).publishable


def test_inputs_are_rounded_half_even_on_the_decimal_string() -> None:
    assert aqi.round_concentration("pm25", "34.5") == 34  # half to even
    assert aqi.round_concentration("pm25", "35.5") == 36
    assert str(aqi.round_concentration("co", 0.25)) == "0.2"
    assert str(aqi.round_concentration("co", "0.35")) == "0.4"
    assert aqi.round_concentration("no2", "-;") is None
    assert aqi.round_concentration("no2", -3) is None


def test_levels_categories_and_colours() -> None:
    expected = {
        0: ("一级", "优", "#00E400"),
        50: ("一级", "优", "#00E400"),
        51: ("二级", "良", "#FFFF00"),
        101: ("三级", "轻度污染", "#FF7E00"),
        151: ("四级", "中度污染", "#FF0000"),
        201: ("五级", "重度污染", "#99004C"),
        300: ("五级", "重度污染", "#99004C"),
        301: ("六级", "严重污染", "#7E0023"),
    }
    for value, (name, category, colour) in expected.items():
        level = aqi.level_for(value)
        assert (level.name, level.category, level.colour) == (name, category, colour)


def test_breakpoint_cells_match_the_note() -> None:
    # environment-standards.md §1.2: a sample of cells, both editions.
    c12, c26 = aqi.COLUMNS[E12], aqi.COLUMNS[E26]
    assert c12["so2_24h"] == (0, 50, 150, 475, 800, 1600, 2100, 2620)
    assert c12["so2_1h"] == (0, 150, 500, 650, 800)
    assert c12["no2_1h"][-1] == 3840
    assert c12["co_24h"][3] == 14
    assert c12["o3_8h"] == (0, 100, 160, 215, 265, 800)
    assert c12["pm25_24h"][2] == 75 and c26["pm25_24h"][2] == 60
    assert c12["pm10_24h"][2] == 150 and c26["pm10_24h"][2] == 120
    changed = {k for k in c12 if c12[k] != c26[k]}
    assert changed == {"pm10_24h", "pm25_24h"}


def test_edition_by_date() -> None:
    assert aqi.edition_for(date(2026, 2, 28)) == E12
    assert aqi.edition_for(date(2026, 3, 1)) == E26


def test_daily_inputs_from_hours() -> None:
    hours: dict[str, list[float | None]] = {
        key: [10.0] * 24 for key in ("so2", "no2", "co", "pm10", "pm25")
    }
    hours["pm25"][:5] = [None] * 5  # 19 valid hours: no daily mean
    hours["o3"] = [*[50.0] * 8, *[120.0] * 8, *[60.0] * 8]
    result = aqi.daily_concentrations(hours)
    assert result["so2"] == 10.0
    assert result["pm25"] is None
    assert result["o3"] == 120.0
    assert result["o3_8h"] == 120.0


def test_ranking_shares_ranks_and_puts_missing_last() -> None:
    ranked = aqi.rank_by_aqi([("a", 80), ("b", 40), ("c", None), ("d", 80), ("e", 95)])
    assert [(r.rank, r.key) for r in ranked] == [
        (1, "b"),
        (2, "a"),
        (2, "d"),
        (4, "e"),
        (None, "c"),
    ]


def test_cli_prints_json() -> None:
    out = StringIO()
    call_command(
        "aqi",
        "--edition",
        "HJ633-2012",
        "--period",
        "hour",
        "pm25=16",
        "pm10=88",
        "co=0.2",
        "so2=3",
        "no2=11",
        "o3=75",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert data["aqi"] == 69
    assert data["primary"] == ["pm10"]
    assert (data["level"], data["category"]) == ("二级", "良")
    assert data["iaqi"] == {"so2": 1, "no2": 6, "pm10": 69, "co": 2, "o3": 24, "pm25": 23}


def test_cli_daily_2026_and_bad_input() -> None:
    out = StringIO()
    args = ["--edition", "HJ633-2026", "--period", "day", "pm25=60", "no2=40", "o3_8h=100"]
    call_command("aqi", *args, stdout=out)
    assert json.loads(out.getvalue())["aqi"] == 100
    with pytest.raises(CommandError):
        call_command("aqi", "--edition", "HJ633-2026", "--period", "day", "o3=abc")
    with pytest.raises(CommandError):
        call_command("aqi", "--edition", "HJ633-2026", "--period", "hour", "o3_8h=100")
    assert Period.DAY == "day"
