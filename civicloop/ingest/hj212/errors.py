"""The codec's one exception type and its machine-readable frame verdicts."""

from __future__ import annotations

from enum import StrEnum


class Hj212Error(ValueError):
    """Raised for input the codec refuses (bad arguments to builders, unparsable segments).

    The deframer never raises it for wire bytes: bad frames come back as records with errors.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FrameError(StrEnum):
    """Why a frame is not acceptable as-is; the first one found is the frame's `error`."""

    CRC_MISMATCH = "crc_mismatch"
    LENGTH_MISMATCH = "length_mismatch"
    BAD_HEADER = "bad_header"
    TRUNCATED = "truncated"


class FrameWarning(StrEnum):
    """Deviations that are tolerated: the frame is still usable."""

    MISSING_CRLF = "missing_crlf"
    BAD_TAIL = "bad_tail"
    LOWERCASE_CRC = "lowercase_crc"
    OVERSIZE = "oversize"
    NON_UTF8 = "non_utf8"
    BAD_HEADER_FIELD = "bad_header_field"
    FIELDS_AFTER_CP = "fields_after_cp"
    BAD_FLAG = "bad_flag"
    UNKNOWN_VERSION = "unknown_version"
    BAD_PACKET_NUMBER = "bad_packet_number"
    SPLIT_WITHOUT_NUMBERS = "split_without_numbers"
    BAD_DATATIME = "bad_datatime"
    DUPLICATE_KEY = "duplicate_key"
    LOOSE_SUFFIX = "loose_suffix"
    BAD_CP_ITEM = "bad_cp_item"
