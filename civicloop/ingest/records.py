"""What a received packet becomes in the database: one `IngestRecord`.

A record is the unit that travels from a listener (TCP or MQTT) to the writer: the raw frame
for the audit table, plus the readings, facility statuses and site information it carries,
all as the monitoring writer's plain frozen rows. Nothing here touches the database, so a
durable broker could carry records between the listener and the writer unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from civicloop.ingest.hj212 import (
    Cn,
    CrcVariant,
    DecodedFrame,
    FrameError,
    Message,
    Suffix,
    parse_hj_time,
)
from civicloop.monitoring.models import (
    CrcVariant as PointCrc,
)
from civicloop.monitoring.models import (
    FacilityStatusKind,
    FrameVerdict,
    ProtocolEdition,
    ReadingKind,
    RejectReason,
)
from civicloop.monitoring.writer import (
    CODE_MAX_LENGTH,
    FLAG_MAX_LENGTH,
    READING_DEFAULTS,
    READING_FIELDS,
    PointAuth,
    RawFrameRow,
    ReadingRow,
    SiteInfoRow,
    StatusRow,
    WriteBatch,
    reading_from_fields,
)

# The codec spells the third variant with a dash, the model with an underscore.
CRC_TO_POINT = {
    CrcVariant.STANDARD: PointCrc.STANDARD,
    CrcVariant.MODBUS: PointCrc.MODBUS,
    CrcVariant.MODBUS_SWAPPED: PointCrc.MODBUS_SWAPPED,
}
_FRAME_ERROR_REASONS = {
    FrameError.CRC_MISMATCH: RejectReason.CRC_MISMATCH,
    FrameError.LENGTH_MISMATCH: RejectReason.LENGTH_MISMATCH,
    FrameError.BAD_HEADER: RejectReason.BAD_HEADER,
    FrameError.TRUNCATED: RejectReason.TRUNCATED,
}
READING_KINDS: dict[str, ReadingKind] = {
    Cn.REALTIME_DATA: ReadingKind.REALTIME,
    Cn.MINUTE_DATA: ReadingKind.MINUTE,
    Cn.HOURLY_DATA: ReadingKind.HOUR,
    Cn.DAILY_DATA: ReadingKind.DAY,
}
_STATUS_SUFFIXES: dict[str, tuple[FacilityStatusKind, Suffix]] = {
    Cn.DAILY_RUN_TIME: (FacilityStatusKind.RUN_HOURS, Suffix.RT),
    "2021": (FacilityStatusKind.RUN_STATE, Suffix.RS),
}
SITE_INFO_CN = "3020"
# Reading columns for the standard suffixes (SampleTime, Flag and EFlag are handled apart).
VALUE_SUFFIXES: dict[str, str] = {
    "Rtd": "rtd",
    "Avg": "avg",
    "Min": "min",
    "Max": "max",
    "Cou": "cou",
    "ZsRtd": "zs_rtd",
    "ZsAvg": "zs_avg",
    "ZsMin": "zs_min",
    "ZsMax": "zs_max",
}
_VALUE_INDEX = {suffix: READING_FIELDS.index(column) for suffix, column in VALUE_SUFFIXES.items()}
_FLAG = READING_FIELDS.index("flag")
_EFLAG = READING_FIELDS.index("eflag")
_SAMPLE_TIME = READING_FIELDS.index("sample_time")
_EDITIONS = {edition.value for edition in ProtocolEdition} - {ProtocolEdition.UNKNOWN.value}


@dataclass(frozen=True, slots=True)
class IngestRecord:
    """One received packet: its raw frame and what it carries. `point_id` None = quarantine."""

    frame: RawFrameRow
    readings: tuple[ReadingRow, ...] = ()
    statuses: tuple[StatusRow, ...] = ()
    site_infos: tuple[SiteInfoRow, ...] = ()
    edition: str | None = None  # a newly detected ProtocolEdition for frame.point_id

    @property
    def is_accepted(self) -> bool:
        return self.frame.verdict == FrameVerdict.ACCEPTED

    @property
    def size(self) -> int:
        """Rows this record costs the writer (for batch sizing)."""
        return 1 + len(self.readings) + len(self.statuses) + len(self.site_infos)


def to_batch(records: Iterable[IngestRecord]) -> WriteBatch:
    frames: list[RawFrameRow] = []
    readings: list[ReadingRow] = []
    statuses: list[StatusRow] = []
    site_infos: list[SiteInfoRow] = []
    editions: dict[int, str] = {}
    for record in records:
        frames.append(record.frame)
        readings.extend(record.readings)
        statuses.extend(record.statuses)
        site_infos.extend(record.site_infos)
        if record.edition is not None and record.frame.point_id is not None:
            editions[record.frame.point_id] = record.edition
    return WriteBatch(
        frames=frames,
        readings=readings,
        statuses=statuses,
        site_infos=site_infos,
        editions=editions,
    )


# ---- verdicts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectReason
    detail: str = ""
    keep_point: bool = False  # a known device's broken frame stays linked to its point


def judge(frame: DecodedFrame, auth: PointAuth | None) -> Rejection | None:
    """Why this frame must not be stored as data, or None when it is acceptable."""
    if frame.error is not None:
        known = auth is not None and auth.password_matches(frame.pw or "")
        return Rejection(_FRAME_ERROR_REASONS[frame.error], frame.error.value, keep_point=known)
    return judge_credentials(auth, frame.mn, frame.pw, crc=frame.crc_variant)


def judge_credentials(
    auth: PointAuth | None, mn: str | None, pw: str | None, *, crc: CrcVariant | None = None
) -> Rejection | None:
    """Unknown MN, disabled point, wrong password, CRC variant not enabled for the point."""
    if not mn:
        return Rejection(RejectReason.UNKNOWN_MN, "no MN")
    if auth is None:
        return Rejection(RejectReason.UNKNOWN_MN)
    if auth.is_disabled:
        return Rejection(RejectReason.POINT_DISABLED, keep_point=True)
    if not auth.password_matches(pw or ""):
        return Rejection(RejectReason.BAD_PASSWORD)
    if crc is not None and CRC_TO_POINT[crc] != auth.crc_variant:
        return Rejection(
            RejectReason.CRC_MISMATCH,
            f"{crc.value} CRC is not enabled for this point",
            keep_point=True,
        )
    return None


# ---- rows from a message -------------------------------------------------------------------


@dataclass(slots=True)
class Rows:
    readings: list[ReadingRow] = field(default_factory=list)
    statuses: list[StatusRow] = field(default_factory=list)
    site_infos: list[SiteInfoRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    missing_data_time: bool = False  # values without a DataTime cannot be keyed


def parse_number(text: str) -> float | None:
    """A finite float, or None (empty, not a number, NaN, infinite)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def reading_row(
    *,
    point_id: int,
    kind: int,
    code: str,
    data_time: datetime,
    values: Mapping[str, str],
    problems: list[str],
) -> ReadingRow | None:
    """One factor's values (`{"Rtd": "12.5", "Flag": "N"}`) as a row; None if it has none."""
    if not code or len(code) > CODE_MAX_LENGTH:
        problems.append(f"bad code {code[:40]!r}")
        return None
    # ReadingRow's fields in order, filled in place: this runs for every reading.
    row: list[Any] = [point_id, kind, code, data_time, *READING_DEFAULTS]
    has_value = False
    for suffix, text in values.items():  # plain str keys
        index = _VALUE_INDEX.get(suffix)
        if index is not None:
            if text.strip():
                row[index] = value = parse_number(text)
                if value is None:
                    problems.append(f"{code}-{suffix}")
                else:
                    has_value = True
        elif suffix == "Flag":
            row[_FLAG] = _short(text, code, problems)
        elif suffix == "EFlag":
            row[_EFLAG] = _short(text, code, problems)
        elif suffix == "SampleTime":
            row[_SAMPLE_TIME] = parse_hj_time(text)
    if not has_value and not row[_FLAG]:
        return None
    return reading_from_fields(row)


def _short(text: str, code: str, problems: list[str]) -> str:
    text = text.strip()
    if len(text) > FLAG_MAX_LENGTH:
        problems.append(f"{code} flag cut")
        return text[:FLAG_MAX_LENGTH]
    return text


def message_rows(message: Message, point_id: int) -> Rows:
    """Readings (2011/2051/2061/2031), statuses (2021/2041) or site info (3020) of a message."""
    rows = Rows()
    data_time = message.data_time
    if data_time is None:
        rows.missing_data_time = bool(message.cp.pollutants) and _carries_rows(message.cn)
        return rows
    if message.cn in READING_KINDS:
        kind = READING_KINDS[message.cn]
        for code, values in message.cp.pollutants.items():
            row = reading_row(
                point_id=point_id,
                kind=kind,
                code=code,
                data_time=data_time,
                values=values,
                problems=rows.problems,
            )
            if row is not None:
                rows.readings.append(row)
    elif message.cn in _STATUS_SUFFIXES:
        rows.statuses = _status_rows(message, point_id, data_time, rows.problems)
    elif message.cn == SITE_INFO_CN:
        rows.site_infos = _site_info_rows(message, point_id, data_time, rows.problems)
    return rows


def _carries_rows(cn: str) -> bool:
    return cn in READING_KINDS or cn in _STATUS_SUFFIXES or cn == SITE_INFO_CN


def _status_rows(
    message: Message, point_id: int, data_time: datetime, problems: list[str]
) -> list[StatusRow]:
    kind, suffix = _STATUS_SUFFIXES[message.cn]
    rows = []
    for code, values in message.cp.pollutants.items():
        text = values.get(suffix)
        if text is None:
            continue
        if len(code) > CODE_MAX_LENGTH:
            problems.append(f"bad code {code[:40]!r}")
            continue
        rows.append(
            StatusRow(
                point_id=point_id,
                kind=kind,
                code=code,
                data_time=data_time,
                value=parse_number(text),
            )
        )
    return rows


def _site_info_rows(
    message: Message, point_id: int, data_time: datetime, problems: list[str]
) -> list[SiteInfoRow]:
    pol_id = message.cp.fields.get("PolId", "")[:CODE_MAX_LENGTH]
    rows = []
    for code, values in message.cp.pollutants.items():
        text = values.get(Suffix.INFO)
        if text is None:
            continue
        if len(code) > CODE_MAX_LENGTH:
            problems.append(f"bad code {code[:40]!r}")
            continue
        rows.append(
            SiteInfoRow(
                point_id=point_id,
                data_time=data_time,
                info_id=code,
                value=_unquoted(text),
                pol_id=pol_id,
            )
        )
    return rows


def _unquoted(text: str) -> str:
    """`//清洗管路//` → `清洗管路` (3020 texts are wrapped in `//`)."""
    if len(text) >= 4 and text.startswith("//") and text.endswith("//"):
        return text[2:-2]
    return text


# ---- records -------------------------------------------------------------------------------


def detected_edition(edition: str | None, auth: PointAuth) -> str | None:
    """The edition to record for the point, or None when there is nothing new to say."""
    if edition is None or edition not in _EDITIONS or edition == auth.protocol_edition:
        return None
    return edition


def frame_record(
    frame: DecodedFrame, auth: PointAuth | None, *, peer: str, received_at: datetime
) -> IngestRecord:
    """The record for a decoded TCP frame: accepted with its rows, or rejected."""
    rejection = judge(frame, auth)
    if rejection is None and auth is not None and frame.message is not None:
        rows = message_rows(frame.message, auth.point_id)
        if rows.missing_data_time:
            rejection = Rejection(RejectReason.MALFORMED, "no DataTime", keep_point=True)
        else:
            return _accepted(frame, auth, rows, peer=peer, received_at=received_at)
    assert rejection is not None
    return rejected_record(
        raw=frame.frame.raw,
        rejection=rejection,
        auth=auth,
        peer=peer,
        received_at=received_at,
        mn=frame.mn or "",
        cn=frame.cn or "",
        detail=_join(rejection.detail, frame.warnings),
    )


def _accepted(
    frame: DecodedFrame, auth: PointAuth, rows: Rows, *, peer: str, received_at: datetime
) -> IngestRecord:
    variant = frame.crc_variant
    raw = RawFrameRow(
        received_at=received_at,
        raw=frame.frame.raw,
        verdict=FrameVerdict.ACCEPTED,
        peer=peer,
        mn=frame.mn or "",
        cn=frame.cn or "",
        crc_variant=CRC_TO_POINT[variant] if variant is not None else "",
        detail=_join("; ".join(rows.problems), frame.warnings),
        point_id=auth.point_id,
    )
    edition = frame.edition.value if frame.edition is not None else None
    return IngestRecord(
        frame=raw,
        readings=tuple(rows.readings),
        statuses=tuple(rows.statuses),
        site_infos=tuple(rows.site_infos),
        edition=detected_edition(edition, auth),
    )


def rejected_record(
    *,
    raw: bytes,
    rejection: Rejection,
    auth: PointAuth | None,
    peer: str,
    received_at: datetime,
    mn: str = "",
    cn: str = "",
    detail: str = "",
) -> IngestRecord:
    point_id = auth.point_id if auth is not None and rejection.keep_point else None
    return IngestRecord(
        frame=RawFrameRow(
            received_at=received_at,
            raw=raw,
            verdict=FrameVerdict.REJECTED,
            peer=peer,
            mn=mn,
            cn=cn,
            reason=rejection.reason,
            detail=detail or rejection.detail,
            point_id=point_id,
        )
    )


def quarantined(record: IngestRecord, *, detail: str) -> IngestRecord:
    """The record's raw frame alone, rejected as malformed (the database refused its rows)."""
    frame = record.frame
    return rejected_record(
        raw=frame.raw,
        rejection=Rejection(RejectReason.MALFORMED),
        auth=None,
        peer=frame.peer,
        received_at=frame.received_at,
        mn=frame.mn,
        cn=frame.cn,
        detail=detail,
    )


def _join(detail: str, warnings: Sequence[str]) -> str:
    parts = [detail] if detail else []
    if warnings:
        parts.append("warnings: " + ",".join(warnings))
    return "; ".join(parts)
