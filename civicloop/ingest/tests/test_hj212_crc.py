from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicloop.ingest.hj212 import (
    CrcMode,
    CrcVariant,
    Hj212Error,
    crc16,
    crc16_hj212,
    crc16_hj212_table,
    crc16_modbus,
    format_crc,
    match_crc,
)
from civicloop.ingest.hj212.crc import TABLE, is_crc_field, parse_crc_mode

SAMPLES = Path(__file__).parent / "data" / "sample_packets.tsv"
STANDARD_EXAMPLE = (
    b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    b"Flag=5;CP=&&RtdInterval=30&&"
)


def crc_bitwise(data: bytes) -> int:
    """HJ 212-2017 附录 A, transcribed step by step (the reference the fast forms must meet)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0xA001
    return crc


def modbus_bitwise(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def sample_segments() -> list[bytes]:
    segments = []
    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        packet = line.split("\t")[2].encode()
        segments.append(packet[6 : packet.rindex(b"&&") + 2])
    return segments


def test_standard_example_is_1c80() -> None:
    assert len(STANDARD_EXAMPLE) == 101
    assert crc16_hj212(STANDARD_EXAMPLE) == 0x1C80
    assert crc16_hj212_table(STANDARD_EXAMPLE) == 0x1C80
    assert crc_bitwise(STANDARD_EXAMPLE) == 0x1C80


def test_9014_example_is_c241() -> None:
    segment = (
        b"QN=20160801085000001;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&"
    )
    assert format_crc(crc16_hj212(segment)) == "C241"


def test_standard_is_not_modbus() -> None:
    assert crc16_hj212(b"123456789") == crc_bitwise(b"123456789")
    assert crc16_hj212(b"123456789") != crc16_modbus(b"123456789")


def test_modbus_check_value() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37
    assert crc16(b"123456789", CrcVariant.MODBUS) == 0x4B37
    assert crc16(b"123456789", CrcVariant.MODBUS_SWAPPED) == 0x374B


def test_empty_segment_keeps_the_initial_register() -> None:
    assert crc16_hj212(b"") == 0xFFFF
    assert crc16_hj212_table(b"") == 0xFFFF


def test_table_entries() -> None:
    assert TABLE[1] == 0xC0C1
    assert TABLE[255] == 0x4040


def test_high_byte_map_has_period_eight() -> None:
    # crc16_hj212 relies on h -> TABLE[h] >> 8 repeating after exactly 8 steps.
    values = list(range(256))
    for _ in range(8):
        values = [TABLE[value] >> 8 for value in values]
    assert values == list(range(256))


def test_all_forms_agree_on_every_sample_segment() -> None:
    for segment in sample_segments():
        expected = crc_bitwise(segment)
        assert crc16_hj212(segment) == expected
        assert crc16_hj212_table(segment) == expected
        assert crc16_modbus(segment) == modbus_bitwise(segment)


@given(st.binary(max_size=2048))
def test_fast_form_equals_the_standard_text(data: bytes) -> None:
    assert crc16_hj212(data) == crc_bitwise(data)
    assert crc16_hj212_table(data) == crc_bitwise(data)


@given(st.binary(min_size=1, max_size=512))
def test_standard_low_byte_is_one_of_eight(data: bytes) -> None:
    assert crc16_hj212(data) & 0xFF in {0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1}


def test_format_crc_is_four_upper_case_digits() -> None:
    assert format_crc(0x1C80) == "1C80"
    assert format_crc(0xAB) == "00AB"


def test_match_crc_ignores_hex_case() -> None:
    assert match_crc(STANDARD_EXAMPLE, b"1C80") is CrcVariant.STANDARD
    assert match_crc(STANDARD_EXAMPLE, b"1c80") is CrcVariant.STANDARD


@pytest.mark.parametrize("field", [b"1C8", b"1C800", b"+1c8", b" 1C8", b"1_C8", b"1C8G", b""])
def test_match_crc_needs_exactly_four_hex_digits(field: bytes) -> None:
    assert not is_crc_field(field)
    assert match_crc(STANDARD_EXAMPLE, field) is None


def test_match_crc_respects_the_mode() -> None:
    modbus = format_crc(crc16_modbus(STANDARD_EXAMPLE)).encode()
    swapped = format_crc(crc16(STANDARD_EXAMPLE, CrcVariant.MODBUS_SWAPPED)).encode()
    assert match_crc(STANDARD_EXAMPLE, modbus) is None
    assert match_crc(STANDARD_EXAMPLE, modbus, CrcMode.MODBUS) is CrcVariant.MODBUS
    assert match_crc(STANDARD_EXAMPLE, swapped, CrcMode.MODBUS) is None
    assert match_crc(STANDARD_EXAMPLE, swapped, CrcMode.MODBUS_SWAPPED) is CrcVariant.MODBUS_SWAPPED
    assert match_crc(STANDARD_EXAMPLE, swapped, CrcMode.ANY) is CrcVariant.MODBUS_SWAPPED
    assert match_crc(STANDARD_EXAMPLE, b"1C80", CrcMode.ANY) is CrcVariant.STANDARD
    assert match_crc(STANDARD_EXAMPLE, b"1C80", CrcMode.MODBUS) is None


def test_crc_mode_from_text() -> None:
    assert parse_crc_mode("modbus-swapped") is CrcMode.MODBUS_SWAPPED
    with pytest.raises(Hj212Error) as caught:
        parse_crc_mode("crc32")
    assert caught.value.code == "bad_crc_mode"
