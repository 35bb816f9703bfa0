"""The data area `CP=&&…&&`: `;` separates items, `,` separates values of one item.

Parsed into an ordered tuple of `CpItem` (lossless, duplicates kept) plus two convenience maps.
Unknown codes and suffixes are kept as strings; `Suffix` only names the standard ones.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from .errors import FrameWarning, Hj212Error
from .times import format_hj_time


class Suffix(StrEnum):
    RTD = "Rtd"
    MIN = "Min"
    AVG = "Avg"
    MAX = "Max"
    COU = "Cou"
    FLAG = "Flag"
    EFLAG = "EFlag"
    ZS_RTD = "ZsRtd"
    ZS_MIN = "ZsMin"
    ZS_AVG = "ZsAvg"
    ZS_MAX = "ZsMax"
    SAMPLE_TIME = "SampleTime"
    RS = "RS"
    RT = "RT"
    DATA = "Data"
    DAY_DATA = "DayData"
    NIGHT_DATA = "NightData"
    INFO = "Info"
    SN = "SN"
    # HJ/T 212-2005 only (alarm commands were removed in 2017).
    ALA = "Ala"
    UP_VALUE = "UpValue"
    LOW_VALUE = "LowValue"


_SUFFIXES = {suffix.value: suffix for suffix in Suffix}
_WARNING_ORDER = tuple(FrameWarning)


class CpItem(NamedTuple):
    """One `key=value`: `code` is None for plain fields such as DataTime or QnRtn.

    A NamedTuple rather than a frozen dataclass: a frame carries dozens of items, and a frozen
    dataclass costs about twice as much to build.
    """

    code: str | None
    name: str
    value: str
    group: int

    @property
    def key(self) -> str:
        return f"{self.code}-{self.name}" if self.code is not None else self.name

    @property
    def suffix(self) -> Suffix | None:
        return _SUFFIXES.get(self.name) if self.code is not None else None


@dataclass(frozen=True, slots=True)
class Cp:
    """`items` is the source of truth; the maps keep the first value of a repeated key."""

    items: tuple[CpItem, ...]
    fields: dict[str, str]
    pollutants: dict[str, dict[str, str]]

    def get(self, code: str, name: str) -> str | None:
        return self.pollutants.get(code, {}).get(name)


def make_cp(items: Iterable[CpItem]) -> tuple[Cp, bool]:
    """Build the maps; the flag says whether a key was repeated."""
    kept = tuple(items)
    fields: dict[str, str] = {}
    pollutants: dict[str, dict[str, str]] = {}
    repeated = False
    for item in kept:
        target = fields if item.code is None else pollutants.setdefault(item.code, {})
        repeated = repeated or item.name in target
        target.setdefault(item.name, item.value)
    return Cp(kept, fields, pollutants), repeated


EMPTY_CP = make_cp(())[0]


# ---- parsing -------------------------------------------------------------------------------


def _split_quoted(text: str) -> list[list[str]]:
    """Split like `_split_groups`, but keep `=//…//` values (site logs, 3020) opaque."""
    groups: list[list[str]] = [[]]
    start = i = 0
    while i < len(text):
        if text.startswith("=//", i):
            close = text.find("//", i + 3)
            i = len(text) if close < 0 else close + 2
            continue
        if text[i] in ";,":
            groups[-1].append(text[start:i])
            if text[i] == ";":
                groups.append([])
            start = i + 1
        i += 1
    groups[-1].append(text[start:])
    return groups


def _split_groups(text: str) -> list[list[str]]:
    if "=//" in text:
        return _split_quoted(text)
    return [group.split(",") for group in text.split(";")]


# CpItem(code, name, value, group) without the NamedTuple's Python-level __new__ (per item).
_item = functools.partial(tuple.__new__, CpItem)


def _parse_group(tokens: list[str], group: int, items: list[CpItem]) -> set[FrameWarning]:
    warnings = set()
    for token in tokens:
        key, sep, value = token.partition("=")
        key = key.strip()
        if not sep or not key:
            if token.strip():  # blank: a trailing `;` before `&&`, or `CP=&& &&`
                warnings.add(FrameWarning.BAD_CP_ITEM)
            continue
        dash = key.find("-")
        if dash > 0:
            items.append(_item((key[:dash], key[dash + 1 :], value, group)))
        elif key in _SUFFIXES and items and items[-1].code is not None:
            # `a34001-Rtd=92;Flag=N`: a bare suffix after a coded item belongs to that code.
            items.append(CpItem(items[-1].code, key, value, group))
            warnings.add(FrameWarning.LOOSE_SUFFIX)
        else:
            items.append(CpItem(None, key, value, group))
    return warnings


def parse_cp(text: str) -> tuple[Cp, tuple[FrameWarning, ...]]:
    """Parse the text between `CP=&&` and the closing `&&`."""
    items: list[CpItem] = []
    warnings: set[FrameWarning] = set()
    for group, tokens in enumerate(_split_groups(text)):
        warnings |= _parse_group(tokens, group, items)
    cp, repeated = make_cp(items)
    if repeated:
        warnings.add(FrameWarning.DUPLICATE_KEY)
    if not warnings:
        return cp, ()
    # Enum order keeps the warning list stable from run to run.
    return cp, tuple(warning for warning in _WARNING_ORDER if warning in warnings)


# ---- building ------------------------------------------------------------------------------

CpValue = str | int | float | Decimal | datetime

_NAME = re.compile(r"[A-Za-z0-9_.]+\Z")
_BAD_VALUE = re.compile(r"[;,\r\n]|&&|##|=//")
_BAD_QUOTED_BODY = re.compile(r"[\r\n]|&&|##|//")


def _check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise Hj212Error("bad_cp_name", f"{what} {name!r} must be letters, digits, '_' or '.'")
    return name


def _check_value(text: str) -> str:
    # `##` would be taken for the start of a new frame by any receiver, ours included;
    # a value starting with `//` is an opaque `//…//` text and must be closed.
    if text.startswith("//"):
        is_valid = len(text) >= 4 and text.endswith("//")
        is_valid = is_valid and not _BAD_QUOTED_BODY.search(text[2:-2])
    else:
        is_valid = not _BAD_VALUE.search(text)
    if not is_valid:
        raise Hj212Error("bad_cp_value", f"CP value {text!r} cannot be sent in HJ 212")
    return text


def format_value(value: CpValue) -> str:
    """Render a value the way devices do: plain decimals, local times as 14 digits."""
    if isinstance(value, bool):
        raise Hj212Error("bad_cp_value", "booleans have no HJ 212 representation")
    if isinstance(value, datetime):
        return format_hj_time(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Hj212Error("bad_cp_value", f"{value!r} has no HJ 212 representation")
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise Hj212Error("bad_cp_value", f"{value!r} has no HJ 212 representation")
        return format(value, "f")  # never an exponent: devices send N14.2-style numbers
    return _check_value(str(value))


def build_cp(
    fields: Mapping[str, CpValue] | None = None,
    pollutants: Mapping[str, Mapping[str, CpValue]] | None = None,
) -> Cp:
    """Fields first (one item each), then one `;` group per pollutant code, in mapping order."""
    items: list[CpItem] = []
    for name, value in (fields or {}).items():
        items.append(CpItem(None, _check_name(name, "field"), format_value(value), len(items)))
    for code, values in (pollutants or {}).items():
        group = items[-1].group + 1 if items else 0
        _check_name(code, "code")
        for name, value in values.items():
            items.append(CpItem(code, _check_name(name, "suffix"), format_value(value), group))
    return make_cp(items)[0]


def format_cp(cp: Cp) -> str:
    """The text between `CP=&&` and `&&`: `;` between groups, `,` inside a group."""
    parts: list[str] = []
    previous_group: int | None = None
    for item in cp.items:
        if previous_group is not None:
            parts.append("," if item.group == previous_group else ";")
        parts.append(f"{item.key}={item.value}")
        previous_group = item.group
    return "".join(parts)
