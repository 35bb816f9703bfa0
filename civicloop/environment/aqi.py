"""Air quality index (AQI) per HJ 633, both editions. Pure: no Django.

Sources: HJ 633—2012 表1/表2 and HJ 633—2026 表3/表1, as transcribed and cross-checked in
environment-standards.md §1 (the ✔ rows). What this module does, and why:

* **Edition by date.** HJ 633—2026 replaces HJ 633—2012 on 2026-03-01; the only table changes
  are the PM10 and PM2.5 breakpoints at IAQI 100 (150 → 120, 75 → 60) and the two "above 800"
  rules. `edition_for(day)` picks the edition in force on a (local) day.
* **Real-time (hourly) report** uses the six current-hour values; PM10/PM2.5 have no 1-hour
  column and use the 24-hour column (the 2026 formula note; what the national platform did under
  2012 as well). 24-hour sliding PM and O3-8h never enter the hourly AQI (§1.8).
* **Daily report**: 24-hour means, O3 daily maximum 8-hour mean, and (2012 only) the O3 daily
  maximum 1-hour value.
* **Rounding**: inputs are rounded by GB/T 8170 (half-even, on the decimal string) to integers
  (µg/m³) or one decimal (CO, mg/m³); every IAQI is rounded **up** to an integer. Arithmetic is
  exact (fractions), so no float noise can push a value over an integer.
* **SO2 1-hour above 800 µg/m³**: 2012 reports the SO2 IAQI from the 24-hour mean; 2026 reports
  200. **O3 8-hour above 800 µg/m³**: 2012 uses the O3 1-hour value; 2026 reports 300.
* Above the last breakpoint the standards give no value: IAQI 500 and an "over range" note.
* **Primary pollutants**: when AQI > 50, every pollutant whose IAQI equals the AQI.
* **Missing data**: the AQI is the maximum of the available IAQIs. Under 2026 (§5.3.1) an
  incomplete set is published only when its AQI is above 100 (`publishable`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from typing import Any


class Edition(StrEnum):
    HJ633_2012 = "HJ633-2012"
    HJ633_2026 = "HJ633-2026"


class Period(StrEnum):
    HOUR = "hour"
    DAY = "day"


EDITION_2026_FROM = date(2026, 3, 1)


def edition_for(day: date) -> Edition:
    """The HJ 633 edition in force on a local calendar day."""
    return Edition.HJ633_2026 if day >= EDITION_2026_FROM else Edition.HJ633_2012


IAQI_STEPS = (0, 50, 100, 150, 200, 300, 400, 500)

# Concentration breakpoints, µg/m³ (CO mg/m³), HJ 633—2012 表1.
_COLUMNS_2012: dict[str, tuple[int, ...]] = {
    "so2_24h": (0, 50, 150, 475, 800, 1600, 2100, 2620),
    "so2_1h": (0, 150, 500, 650, 800),
    "no2_24h": (0, 40, 80, 180, 280, 565, 750, 940),
    "no2_1h": (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    "pm10_24h": (0, 50, 150, 250, 350, 420, 500, 600),
    "co_24h": (0, 2, 4, 14, 24, 36, 48, 60),
    "co_1h": (0, 5, 10, 35, 60, 90, 120, 150),
    "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h": (0, 100, 160, 215, 265, 800),
    "pm25_24h": (0, 35, 75, 115, 150, 250, 350, 500),
}
# HJ 633—2026 表3: identical except the PM breakpoints at IAQI 100.
_COLUMNS_2026 = {
    **_COLUMNS_2012,
    "pm10_24h": (0, 50, 120, 250, 350, 420, 500, 600),
    "pm25_24h": (0, 35, 60, 115, 150, 250, 350, 500),
}
COLUMNS: dict[Edition, dict[str, tuple[int, ...]]] = {
    Edition.HJ633_2012: _COLUMNS_2012,
    Edition.HJ633_2026: _COLUMNS_2026,
}

# Which column each input uses, per report.
HOURLY_ITEMS = {
    "so2": "so2_1h",
    "no2": "no2_1h",
    "pm10": "pm10_24h",
    "co": "co_1h",
    "o3": "o3_1h",
    "pm25": "pm25_24h",
}
DAILY_ITEMS_2026 = {
    "so2": "so2_24h",
    "no2": "no2_24h",
    "pm10": "pm10_24h",
    "co": "co_24h",
    "o3_8h": "o3_8h",
    "pm25": "pm25_24h",
}
# 2012 daily reports add the O3 daily maximum 1-hour value ("o3").
DAILY_ITEMS_2012 = {**DAILY_ITEMS_2026, "o3": "o3_1h"}
# Display order (HJ 633 table order) and the names the national platform publishes.
ORDER = ("so2", "no2", "pm10", "co", "o3", "o3_8h", "pm25")
NAMES = {
    "so2": "二氧化硫",
    "no2": "二氧化氮",
    "pm10": "颗粒物(PM10)",
    "co": "一氧化碳",
    "o3": "臭氧1小时",
    "o3_8h": "臭氧8小时",
    "pm25": "细颗粒物(PM2.5)",
}
# Inputs with one decimal (CO, mg/m³); the others are whole µg/m³.
_ONE_DECIMAL = frozenset({"co"})


@dataclass(frozen=True, slots=True)
class Level:
    number: int
    name: str
    category: str
    colour_name: str
    colour: str
    low: int
    high: int | None


# HJ 633 表2 (2012) / 表1 (2026) and 附录 A: levels, categories and colours.
LEVELS = (
    Level(1, "一级", "优", "绿色", "#00E400", 0, 50),
    Level(2, "二级", "良", "黄色", "#FFFF00", 51, 100),
    Level(3, "三级", "轻度污染", "橙色", "#FF7E00", 101, 150),
    Level(4, "四级", "中度污染", "红色", "#FF0000", 151, 200),
    Level(5, "五级", "重度污染", "紫色", "#99004C", 201, 300),
    Level(6, "六级", "严重污染", "褐红色", "#7E0023", 301, None),
)


def level_for(aqi: int) -> Level:
    for level in LEVELS:
        if level.high is None or aqi <= level.high:
            return level
    raise AssertionError("unreachable: the last level is open-ended")


@dataclass(frozen=True, slots=True)
class Iaqi:
    value: int | None
    over_range: bool = False


@dataclass(frozen=True, slots=True)
class AqiResult:
    edition: Edition
    period: Period
    aqi: int | None
    primary: tuple[str, ...]
    level: Level | None
    iaqi: dict[str, int | None]
    concentrations: dict[str, str | None]
    over_range: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    publishable: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def primary_names(self) -> list[str]:
        return [NAMES[key] for key in self.primary]

    def as_dict(self) -> dict[str, Any]:
        level = self.level
        return {
            "edition": str(self.edition),
            "period": str(self.period),
            "aqi": self.aqi,
            "primary": list(self.primary),
            "primary_names": self.primary_names,
            "level": level.name if level else None,
            "level_number": level.number if level else None,
            "category": level.category if level else None,
            "colour": level.colour if level else None,
            "colour_name": level.colour_name if level else None,
            "iaqi": dict(self.iaqi),
            "concentrations": dict(self.concentrations),
            "over_range": list(self.over_range),
            "missing": list(self.missing),
            "publishable": self.publishable,
            "notes": list(self.notes),
        }


Value = float | int | str | Decimal | None


def round_concentration(pollutant: str, value: Value) -> Decimal | None:
    """GB/T 8170 rounding (half-even) on the decimal string: integers, CO one decimal.

    None, empty, non-numeric ("—", "-;") and negative values are missing data.
    """
    if value is None:
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0:
        return None
    quantum = Decimal("0.1") if pollutant.startswith("co") else Decimal("1")
    return number.quantize(quantum, rounding=ROUND_HALF_EVEN)


def iaqi(edition: Edition, column: str, concentration: Decimal | None) -> Iaqi:
    """The sub-index of one concentration on one column (formula 1, rounded up)."""
    if concentration is None:
        return Iaqi(None)
    breakpoints = COLUMNS[edition][column]
    if concentration > breakpoints[-1]:
        return Iaqi(500, over_range=True)
    c = Fraction(concentration)
    for index in range(len(breakpoints) - 1):
        low, high = breakpoints[index], breakpoints[index + 1]
        if low <= c <= high:
            i_low, i_high = IAQI_STEPS[index], IAQI_STEPS[index + 1]
            return Iaqi(math.ceil(Fraction(i_high - i_low, high - low) * (c - low) + i_low))
    raise AssertionError("unreachable: breakpoints start at 0")


def hourly_aqi(
    edition: Edition, values: Mapping[str, Value], *, so2_24h: Value = None
) -> AqiResult:
    """Real-time AQI from current-hour so2, no2, co, o3, pm10, pm25.

    `so2_24h` is only used by the 2012 rule for SO2 1-hour values above 800 µg/m³.
    """
    rounded = {key: round_concentration(key, values.get(key)) for key in HOURLY_ITEMS}
    sub: dict[str, Iaqi] = {}
    notes: list[str] = []
    for key, column in HOURLY_ITEMS.items():
        sub[key] = iaqi(edition, column, rounded[key])
    so2 = rounded["so2"]
    if so2 is not None and so2 > 800:
        sub["so2"], note = _so2_above_800(edition, round_concentration("so2", so2_24h))
        notes.append(note)
    return _result(edition, Period.HOUR, rounded, sub, notes)


def daily_aqi(edition: Edition, values: Mapping[str, Value]) -> AqiResult:
    """Daily AQI from 24-hour so2, no2, co, pm10, pm25 and the O3 daily maximum 8-hour mean
    (`o3_8h`); under 2012 also the O3 daily maximum 1-hour value (`o3`)."""
    items = DAILY_ITEMS_2012 if edition == Edition.HJ633_2012 else DAILY_ITEMS_2026
    rounded = {key: round_concentration(key, values.get(key)) for key in items}
    sub = {key: iaqi(edition, column, rounded[key]) for key, column in items.items()}
    notes: list[str] = []
    o3_8h = rounded["o3_8h"]
    if o3_8h is not None and o3_8h > 800:
        sub["o3_8h"], note = _o3_8h_above_800(edition, rounded.get("o3"))
        notes.append(note)
    return _result(edition, Period.DAY, rounded, sub, notes)


def _so2_above_800(edition: Edition, so2_24h: Decimal | None) -> tuple[Iaqi, str]:
    if edition == Edition.HJ633_2026:
        return Iaqi(200), "SO2 1小时平均浓度高于800 µg/m³，IAQI按200计"
    return iaqi(edition, "so2_24h", so2_24h), "SO2 1小时平均浓度高于800 µg/m³，按24小时平均计算"


def _o3_8h_above_800(edition: Edition, o3_1h: Decimal | None) -> tuple[Iaqi, str]:
    if edition == Edition.HJ633_2026:
        return Iaqi(300), "O3 8小时平均浓度高于800 µg/m³，IAQI按300计"
    return iaqi(edition, "o3_1h", o3_1h), "O3 8小时平均浓度高于800 µg/m³，按1小时平均计算"


def _result(
    edition: Edition,
    period: Period,
    rounded: Mapping[str, Decimal | None],
    sub: Mapping[str, Iaqi],
    notes: list[str],
) -> AqiResult:
    keys = [key for key in ORDER if key in sub]
    present: dict[str, int] = {}
    for key in keys:
        value = sub[key].value
        if value is not None:
            present[key] = value
    aqi = max(present.values()) if present else None
    missing = tuple(key for key in keys if sub[key].value is None)
    primary: tuple[str, ...] = ()
    if aqi is not None and aqi > 50:
        primary = tuple(key for key, value in present.items() if value == aqi)
    publishable = aqi is not None and (edition == Edition.HJ633_2012 or not missing or aqi > 100)
    return AqiResult(
        edition=edition,
        period=period,
        aqi=aqi,
        primary=primary,
        level=level_for(aqi) if aqi is not None else None,
        iaqi={key: sub[key].value for key in keys},
        concentrations={
            key: None if rounded.get(key) is None else str(rounded[key]) for key in keys
        },
        over_range=tuple(key for key in keys if sub[key].over_range),
        missing=missing,
        publishable=publishable,
        notes=tuple(notes),
    )


def compute(edition: Edition, period: Period, values: Mapping[str, Value]) -> AqiResult:
    if period == Period.HOUR:
        return hourly_aqi(edition, values, so2_24h=values.get("so2_24h"))
    return daily_aqi(edition, values)


# ---------------------------------------------------------------- daily inputs from hours

MIN_HOURS_PER_DAY = 20  # GB 3095 表4: a daily mean needs ≥ 20 hourly values
MIN_HOURS_PER_8H = 6  # GB 3095 表4: an 8-hour mean needs ≥ 6 hourly values


def daily_concentrations(hours: Mapping[str, Sequence[float | None]]) -> dict[str, float | None]:
    """Daily inputs from the 24 hourly values of a local day (index 0 = 00:00–01:00).

    so2, no2, co, pm10, pm25: mean of ≥ 20 valid hours; o3: the daily maximum 1-hour value
    (≥ 20 valid hours); o3_8h: the maximum of the 8-hour means of the windows starting
    00:00…16:00, each with ≥ 6 valid hours. Missing hours are None.
    """
    result: dict[str, float | None] = {}
    for key in ("so2", "no2", "co", "pm10", "pm25"):
        valid = [v for v in hours.get(key, ()) if v is not None]
        result[key] = sum(valid) / len(valid) if len(valid) >= MIN_HOURS_PER_DAY else None
    o3 = list(hours.get("o3", ()))
    valid_o3 = [v for v in o3 if v is not None]
    result["o3"] = max(valid_o3) if len(valid_o3) >= MIN_HOURS_PER_DAY else None
    result["o3_8h"] = max_8h_mean(o3)
    return result


def max_8h_mean(hourly: Sequence[float | None]) -> float | None:
    means = []
    for start in range(0, max(0, min(len(hourly), 24) - 7)):
        window = [v for v in hourly[start : start + 8] if v is not None]
        if len(window) >= MIN_HOURS_PER_8H:
            means.append(sum(window) / len(window))
    return max(means) if means else None


# ---------------------------------------------------------------- ranking


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int | None
    key: str
    aqi: int | None


def rank_by_aqi(items: Iterable[tuple[str, int | None]]) -> list[Ranked]:
    """Best (lowest AQI) first; equal AQIs share a rank (1, 2, 2, 4); no AQI comes last."""
    ordered = sorted(items, key=lambda item: (item[1] is None, item[1] or 0, item[0]))
    ranked: list[Ranked] = []
    for position, (key, aqi) in enumerate(ordered, 1):
        if aqi is None:
            ranked.append(Ranked(None, key, None))
        elif ranked and ranked[-1].aqi == aqi:
            ranked.append(Ranked(ranked[-1].rank, key, aqi))
        else:
            ranked.append(Ranked(position, key, aqi))
    return ranked
