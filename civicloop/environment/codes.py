"""Identifier rules: unified social credit code, permit number, outlet code. Pure: no Django.

Sources (environment-standards.md §4.2):

* **USCC (GB 32100—2015)**: 18 characters from `0123456789ABCDEFGHJKLMNPQRTUWXY` (no I, O, S,
  V, Z); the 18th is the check character: charset[(31 − Σ value × weight mod 31) mod 31] with
  the weights 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28.
* **Permit number / fixed-source code (22 characters, HJ 608—2017)**: the unit's USCC, a 3-digit
  sequence of its fixed sources, and one letter (e.g. `91130200699229617X001P`). Units without
  a USCC got an "H9…" substitute of 18 characters; its last character is not a GB 32100 check
  character, so only its shape is checked. Platform numbers end in several letters, so the 22nd
  character is any letter.
* **Outlet codes**: `DW` (water) or `DA` (air) and a 3-digit sequence (`DW001`, `DA012`).
"""

from __future__ import annotations

import re

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(f"^[{USCC_CHARSET}]{{18}}$")
# "H9" + 6-digit admin code + "0000" + 5-digit sequence + a lower-case letter, or
# "H9" + admin code + 9-character organisation code + a lower-case letter (2016 rule).
_H9_SHAPE = re.compile(r"^H9\d{6}[0-9A-Z]{9}[a-z]$")
_PERMIT_TAIL = re.compile(r"^\d{3}[A-Za-z]$")
_OUTLET_SHAPE = re.compile(r"^D([AW])(\d{3})$")
_INDUSTRY_SHAPE = re.compile(r"^[A-T]?\d{2,4}$")


def gettext_noop(message: str) -> str:
    """Marks a message for `makemessages` without importing Django; the caller translates it."""
    return message


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters."""
    total = sum(USCC_CHARSET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_problem(value: str) -> str | None:
    """Why `value` is not a valid USCC (Chinese, for the user), or None when it is."""
    if len(value) != 18:
        return gettext_noop("统一社会信用代码应为18位")
    if not _USCC_SHAPE.match(value):
        return gettext_noop(
            "统一社会信用代码含有无效字符（只能是数字和除 I、O、S、V、Z 以外的大写字母）"
        )
    if uscc_check_char(value[:17]) != value[17]:
        return gettext_noop("统一社会信用代码校验位错误")
    return None


def is_valid_uscc(value: str) -> bool:
    return uscc_problem(value) is None


def permit_number_problem(value: str) -> str | None:
    """Why `value` is not a valid 22-character permit number, or None when it is."""
    if len(value) != 22:
        return gettext_noop("排污许可证编号应为22位")
    head, tail = value[:18], value[18:]
    if not _PERMIT_TAIL.match(tail):
        return gettext_noop("排污许可证编号第19～21位应为3位数字顺序码，第22位为字母")
    if _H9_SHAPE.match(head):
        return None
    if not _USCC_SHAPE.match(head):
        return gettext_noop("排污许可证编号前18位含有无效字符")
    if uscc_check_char(head[:17]) != head[17]:
        return gettext_noop("排污许可证编号前18位的统一社会信用代码校验位错误")
    return None


def is_valid_permit_number(value: str) -> bool:
    return permit_number_problem(value) is None


def outlet_medium(code: str) -> str | None:
    """ "water" for DW###, "air" for DA###, None for anything else."""
    match = _OUTLET_SHAPE.match(code)
    if match is None:
        return None
    return "water" if match.group(1) == "W" else "air"


def outlet_code_problem(code: str) -> str | None:
    if outlet_medium(code) is None:
        return gettext_noop("排放口编号应为 DW 或 DA 加3位数字，如 DW001、DA001")
    return None


def industry_code_problem(code: str) -> str | None:
    if not _INDUSTRY_SHAPE.match(code):
        return gettext_noop("行业代码应为 GB/T 4754 的2～4位数字代码（可带门类字母），如 1713")
    return None
