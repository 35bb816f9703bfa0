"""The data segment: header fields (QN, ST, CN, PW, MN, Flag, PNUM, PNO) and the CP block.

Devices reorder, omit and append header fields, so the header is read as an unordered
`key=value` list up to `CP=&&`; anything after the closing `&&` (a known generator bug puts
`;Flag=0` there) is read as header too, with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum
from functools import lru_cache

from .cp import Cp, parse_cp
from .errors import FrameWarning, Hj212Error
from .times import parse_hj_time


class Edition(StrEnum):
    """Standard edition, from the version bits of Flag (bits 2–7); no Flag means 2005."""

    HJT212_2005 = "2005"
    HJ212_2017 = "2017"
    HJ212_2025 = "2025"
    UNKNOWN = "unknown"


class CodeEdition(StrEnum):
    """Which code list the pollutant codes come from; judged separately because mixed
    packets (2005 framing, 2017 codes) are common."""

    HJT212_2005 = "2005"
    HJ212_2017 = "2017"
    MIXED = "mixed"
    OTHER = "other"
    NONE = "none"


class Cn(StrEnum):
    """Command codes the platform sends or answers (HJ 212-2017 表9)."""

    GET_DEVICE_TIME = "1011"
    SET_DEVICE_TIME = "1012"
    TIME_CALIBRATION_REQUEST = "1013"
    REALTIME_DATA = "2011"
    DAILY_DATA = "2031"
    DAILY_RUN_TIME = "2041"
    MINUTE_DATA = "2051"
    HOURLY_DATA = "2061"
    REQUEST_ANSWER = "9011"
    EXECUTION_RESULT = "9012"
    NOTIFICATION_ANSWER = "9013"
    DATA_ANSWER = "9014"


ANSWER_CNS = frozenset(
    {Cn.REQUEST_ANSWER, Cn.EXECUTION_RESULT, Cn.NOTIFICATION_ANSWER, Cn.DATA_ANSWER}
)


class QnRtn(IntEnum):
    READY = 1
    REFUSED = 2
    BAD_PW = 3
    BAD_MN = 4
    BAD_ST = 5
    BAD_FLAG = 6
    BAD_QN = 7
    BAD_CN = 8
    BAD_CRC = 9
    UNKNOWN = 100


class ExeRtn(IntEnum):
    SUCCESS = 1
    FAILED = 2
    BAD_CONDITION = 3
    TIMEOUT = 4
    BUSY = 5
    SYSTEM_FAULT = 6
    NO_DATA = 100


FLAG_ACK = 0x01
FLAG_SPLIT = 0x02
_VERSIONS = {0: Edition.HJT212_2005, 1: Edition.HJ212_2017, 2: Edition.HJ212_2025}


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed data segment. `header` keeps every header field as sent (first wins)."""

    qn: str | None
    st: str
    cn: str
    pw: str | None
    mn: str | None
    flag: int | None
    pnum: int | None
    pno: int | None
    edition: Edition
    code_edition: CodeEdition
    data_time: datetime | None
    header: dict[str, str]
    cp: Cp
    warnings: tuple[FrameWarning, ...]

    @property
    def is_ack_requested(self) -> bool:
        return self.flag is not None and bool(self.flag & FLAG_ACK)

    @property
    def is_answer(self) -> bool:
        return self.cn in ANSWER_CNS


def _decode_text(data: bytes) -> tuple[str, bool]:
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True


def _parse_header(text: str, warnings: list[FrameWarning]) -> dict[str, str]:
    header: dict[str, str] = {}
    # 表 C.22 writes `QN=…,ST=32`: a comma never occurs inside a header value.
    parts = re.split(r"[;,]", text) if "," in text else text.split(";")
    for part in parts:
        key, sep, value = part.partition("=")
        key = key.strip()
        if not key and not sep:
            continue
        if not sep or not key:
            warnings.append(FrameWarning.BAD_HEADER_FIELD)
        elif key in header:
            warnings.append(FrameWarning.DUPLICATE_KEY)
        else:
            header[key] = value.strip()
    return header


def _small_int(text: str | None, limit: int) -> int | None:
    if text is None or not text.isascii() or not text.isdigit() or int(text) > limit:
        return None
    return int(text)


def _read_flag(header: dict[str, str], warnings: list[FrameWarning]) -> tuple[int | None, Edition]:
    flag = _small_int(header.get("Flag"), 255)
    if flag is None:
        if "Flag" in header:
            warnings.append(FrameWarning.BAD_FLAG)
        return None, Edition.HJT212_2005
    edition = _VERSIONS.get(flag >> 2, Edition.UNKNOWN)
    if edition is Edition.UNKNOWN:
        warnings.append(FrameWarning.UNKNOWN_VERSION)
    return flag, edition


def _read_packet_numbers(
    header: dict[str, str], flag: int | None, warnings: list[FrameWarning]
) -> tuple[int | None, int | None]:
    pnum = _small_int(header.get("PNUM"), 9999)
    pno = _small_int(header.get("PNO"), 9999)
    if (pnum is None and "PNUM" in header) or (pno is None and "PNO" in header):
        warnings.append(FrameWarning.BAD_PACKET_NUMBER)
    if flag is not None and flag & FLAG_SPLIT and (pnum is None or pno is None):
        warnings.append(FrameWarning.SPLIT_WITHOUT_NUMBERS)
    return pnum, pno


_CODE_2017 = re.compile(r"[a-z]\d{5}\Z")
_CODE_2005 = re.compile(r"(\d{2,3}|[A-Z]\d{2})\Z")
# Facility (SBx) and noise (LA, Leq, L10 …) codes are the same in both editions.
_CODE_NEUTRAL = re.compile(r"(SB\d+|LA|Leq|Ldn|Ld|Ln|LMx|LMn|L\d+)\Z")


@lru_cache(maxsize=4096)  # a site sends the same few dozen codes in every frame
def _code_style(code: str) -> CodeEdition | None:
    if _CODE_2017.match(code):
        return CodeEdition.HJ212_2017
    if _CODE_2005.match(code):
        return CodeEdition.HJT212_2005
    return None if _CODE_NEUTRAL.match(code) else CodeEdition.OTHER


def classify_codes(codes: list[str]) -> CodeEdition:
    styles = {style for code in codes if (style := _code_style(code)) is not None}
    if len(styles) > 1:
        # Vendor codes next to standard ones (lng, pms_rules …) do not make a packet "mixed".
        styles.discard(CodeEdition.OTHER)
    if len(styles) > 1:
        return CodeEdition.MIXED
    return styles.pop() if styles else CodeEdition.NONE


def _read_data_time(cp: Cp, warnings: list[FrameWarning]) -> datetime | None:
    raw = cp.fields.get("DataTime")
    if raw is None:
        return None
    parsed = parse_hj_time(raw)
    if parsed is None:
        warnings.append(FrameWarning.BAD_DATATIME)
    return parsed


def _split_segment(text: str) -> tuple[str, str, str]:
    """(header, CP content, trailer): CP runs from the first `CP=&&` to the last `&&`."""
    start = text.find("CP=&&")
    end = text.rfind("&&")
    if start < 0 or end < start + 5:
        raise Hj212Error("bad_header", "data segment has no CP=&&…&& block")
    return text[:start], text[start + 5 : end], text[end + 2 :]


def parse_segment(data: bytes) -> Message:
    """Parse a data segment (the bytes between the length field and the CRC)."""
    text, is_lossy = _decode_text(data)
    header_text, cp_text, trailer = _split_segment(text)
    warnings = [FrameWarning.NON_UTF8] if is_lossy else []
    header = _parse_header(header_text, warnings)
    if trailer.strip():
        warnings.append(FrameWarning.FIELDS_AFTER_CP)
        header = _parse_header(trailer, warnings) | header
    st, cn = header.get("ST"), header.get("CN")
    if not st or not cn:
        raise Hj212Error("bad_header", "data segment has no ST or no CN")
    return _build_message(header, st, cn, cp_text, warnings)


def _build_message(
    header: dict[str, str], st: str, cn: str, cp_text: str, warnings: list[FrameWarning]
) -> Message:
    flag, edition = _read_flag(header, warnings)
    pnum, pno = _read_packet_numbers(header, flag, warnings)
    cp, cp_warnings = parse_cp(cp_text)
    warnings.extend(cp_warnings)
    data_time = _read_data_time(cp, warnings)
    return Message(
        # 2005 replies carry the request's QN inside CP rather than in the header.
        qn=header.get("QN") or cp.fields.get("QN"),
        st=st,
        cn=cn,
        pw=header.get("PW"),
        mn=header.get("MN"),
        flag=flag,
        pnum=pnum,
        pno=pno,
        edition=edition,
        code_edition=classify_codes(list(cp.pollutants)),
        data_time=data_time,
        header=header,
        cp=cp,
        warnings=tuple(dict.fromkeys(warnings)),
    )
