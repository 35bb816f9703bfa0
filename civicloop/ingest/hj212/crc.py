"""HJ 212 checksums: the standard's own "ANSI CRC16" and the two Modbus variants seen in the field.

The standard (HJ 212-2017 附录 A) does `crc = (crc >> 8) ^ byte` and then eight shifts with the
reflected polynomial 0xA001. Unlike CRC-16/MODBUS it throws the old low byte away, so every
step is one lookup in the CRC-16/ARC table: `crc = TABLE[(crc >> 8) ^ byte]`.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import Hj212Error


class CrcVariant(StrEnum):
    STANDARD = "standard"
    MODBUS = "modbus"
    # Modbus wire order (low byte first) printed as if it were high byte first.
    MODBUS_SWAPPED = "modbus-swapped"


class CrcMode(StrEnum):
    """Which variants a receiver accepts; `any` tries them in declaration order."""

    STANDARD = "standard"
    MODBUS = "modbus"
    MODBUS_SWAPPED = "modbus-swapped"
    ANY = "any"


def _build_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


TABLE = _build_table()
_HIGH = tuple(entry >> 8 for entry in TABLE)


def crc16_hj212_table(data: bytes) -> int:
    """The standard algorithm, one table lookup per byte (the reference for `crc16_hj212`)."""
    crc = 0xFFFF
    for byte in data:
        crc = TABLE[(crc >> 8) ^ byte]
    return crc


def _high_power(power: int, value: int) -> int:
    for _ in range(power):
        value = _HIGH[value]
    return value


# Between two bytes only the high byte of the register survives, and the map
# h -> TABLE[h] >> 8 is linear over GF(2) with period 8 (checked in the tests). So the register
# is a XOR of per-byte contributions that depend only on (distance to the end) mod 8: XOR the
# bytes of each residue class first (done in C by folding one big int), then do 8 lookups.
_CLASS_TABLES = tuple(tuple(TABLE[_high_power(j, b)] for b in range(256)) for j in range(8))
_INITIAL = tuple(TABLE[_high_power(j, 0xFF)] for j in range(8))


def _fold_to_64_bits(data: bytes) -> int:
    folded = int.from_bytes(data, "big")
    while folded >> 64:
        # Shifts are whole multiples of 64 bits, so each byte keeps its position mod 8.
        half = ((folded.bit_length() + 1) // 2 + 63) // 64 * 64
        folded = (folded >> half) ^ (folded & ((1 << half) - 1))
    return folded


def crc16_hj212(data: bytes) -> int:
    """The standard HJ 212 CRC of a data segment; same result as `crc16_hj212_table`, faster."""
    if not data:
        return 0xFFFF
    folded = _fold_to_64_bits(data)
    crc = _INITIAL[(len(data) - 1) % 8]
    for table, byte in zip(_CLASS_TABLES, folded.to_bytes(8, "little"), strict=True):
        crc ^= table[byte]
    return crc


def crc16_modbus(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ TABLE[(crc ^ byte) & 0xFF]
    return crc


def crc16(data: bytes, variant: CrcVariant = CrcVariant.STANDARD) -> int:
    if variant is CrcVariant.STANDARD:
        return crc16_hj212(data)
    crc = crc16_modbus(data)
    if variant is CrcVariant.MODBUS_SWAPPED:
        return ((crc & 0xFF) << 8) | (crc >> 8)
    return crc


def format_crc(value: int) -> str:
    """Four upper-case hex digits, as the standard's example sends them."""
    return f"{value:04X}"


_MODE_VARIANTS = {
    CrcMode.STANDARD: (CrcVariant.STANDARD,),
    CrcMode.MODBUS: (CrcVariant.MODBUS,),
    CrcMode.MODBUS_SWAPPED: (CrcVariant.MODBUS_SWAPPED,),
    CrcMode.ANY: (CrcVariant.STANDARD, CrcVariant.MODBUS, CrcVariant.MODBUS_SWAPPED),
}
_HEX_DIGITS = b"0123456789abcdefABCDEF"


def is_crc_field(field: bytes) -> bool:
    """Exactly four ASCII hex digits (int(..., 16) alone would also take '+1_f' or ' 1f')."""
    return len(field) == 4 and not field.translate(None, _HEX_DIGITS)


def match_crc(data: bytes, field: bytes, mode: CrcMode = CrcMode.STANDARD) -> CrcVariant | None:
    """The first variant allowed by `mode` whose CRC of `data` equals `field` (any hex case)."""
    if not is_crc_field(field):
        return None
    received = int(field, 16)
    for variant in _MODE_VARIANTS[mode]:
        if crc16(data, variant) == received:
            return variant
    return None


def parse_crc_mode(value: CrcMode | str) -> CrcMode:
    try:
        return CrcMode(value)
    except ValueError:
        choices = "|".join(mode.value for mode in CrcMode)
        raise Hj212Error("bad_crc_mode", f"CRC mode must be one of {choices}") from None


def parse_crc_variant(value: CrcVariant | str) -> CrcVariant:
    try:
        return CrcVariant(value)
    except ValueError:
        choices = "|".join(variant.value for variant in CrcVariant)
        raise Hj212Error("bad_crc_variant", f"CRC variant must be one of {choices}") from None
