"""HJ 212 timestamps: `YYYYMMDDhhmmss` (DataTime, SystemTime …) and `YYYYMMDDhhmmsszzz` (QN).

Neither standard names a time zone; devices send China local time. We convert to aware UTC at
the edge and back to local time only when writing a frame.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from .errors import Hj212Error

DEVICE_TZ = ZoneInfo("Asia/Shanghai")


@lru_cache(maxsize=4096)  # many devices send the same DataTime (datetimes are immutable)
def parse_hj_time(text: str) -> datetime | None:
    """Aware UTC datetime for 14 digits (or 17 with milliseconds), None if it is not a time."""
    if len(text) not in (14, 17) or not text.isascii() or not text.isdigit():
        return None
    millis = int(text[14:]) if len(text) == 17 else 0
    try:
        local = datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
            millis * 1000,
            tzinfo=DEVICE_TZ,
        )
    except ValueError:
        return None
    return local.astimezone(UTC)


def _local(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise Hj212Error("naive_datetime", "HJ 212 times must be built from aware datetimes")
    return at.astimezone(DEVICE_TZ)


def format_hj_time(at: datetime) -> str:
    """`YYYYMMDDhhmmss` in device local time."""
    return _local(at).strftime("%Y%m%d%H%M%S")


def make_qn(at: datetime) -> str:
    """A request number (QN): local time with milliseconds, 17 digits."""
    local = _local(at)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"
