"""USCC (GB 32100) and permit-number (HJ 608) validation."""

from __future__ import annotations

import pytest

from civicloop.environment import codes

VALID_USCC = "91130200699229617X"  # 河钢股份有限公司唐山分公司, the HJ 608—2017 example


def test_the_hj608_example_passes() -> None:
    assert codes.is_valid_uscc(VALID_USCC)
    assert codes.uscc_check_char(VALID_USCC[:17]) == "X"
    assert codes.is_valid_permit_number(VALID_USCC + "001P")
    assert codes.is_valid_permit_number(VALID_USCC + "002P")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("91130200699229617", "应为18位"),
        ("91130200699229617Y", "校验位错误"),
        ("91130200699229617I", "无效字符"),
        ("9113020069922961 X", "无效字符"),
        ("91130200699229617x", "无效字符"),
    ],
)
def test_invalid_usccs_are_refused_with_a_reason(value: str, message: str) -> None:
    problem = codes.uscc_problem(value)
    assert problem is not None and message in problem


def test_every_single_character_change_is_caught() -> None:
    for position in range(17):
        for ch in codes.USCC_CHARSET:
            if ch == VALID_USCC[position]:
                continue
            changed = VALID_USCC[:position] + ch + VALID_USCC[position + 1 :]
            assert not codes.is_valid_uscc(changed), changed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (VALID_USCC + "001", "应为22位"),
        (VALID_USCC + "01PP", "3位数字顺序码"),
        (VALID_USCC + "0011", "3位数字顺序码"),
        ("91130200699229617Y001P", "校验位错误"),
    ],
)
def test_invalid_permit_numbers(value: str, message: str) -> None:
    problem = codes.permit_number_problem(value)
    assert problem is not None and message in problem


def test_h9_substitutes_without_a_uscc_are_checked_for_shape_only() -> None:
    assert codes.is_valid_permit_number("H9330782000012345a001P")
    assert codes.is_valid_permit_number("H9330782MA2ABCDE1b001Q")
    assert not codes.is_valid_permit_number("H9330782000012345A001P")  # needs lower case


def test_outlet_codes() -> None:
    assert codes.outlet_medium("DW001") == "water"
    assert codes.outlet_medium("DA012") == "air"
    for bad in ("DW01", "DX001", "dw001", "DA0001", "DS001"):
        assert codes.outlet_code_problem(bad) is not None


def test_industry_codes() -> None:
    assert codes.industry_code_problem("1713") is None
    assert codes.industry_code_problem("C1713") is None
    assert codes.industry_code_problem("17135") is not None
