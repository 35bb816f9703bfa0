"""The storage side of ingestion: what the HJ 212 listener (or a broker consumer) calls.

Contract (docs/monitoring.md):

* rows are plain frozen dataclasses of ints, strings, floats and aware datetimes, so a durable
  broker can sit between the listener and this writer later (serialize the rows, call the
  same functions on the consumer side);
* every store_* call is one transaction and idempotent: a retransmitted record is a no-op, and
  a call returns the number of rows it actually wrote;
* `store_batch` writes a whole batch (frames, readings, statuses, site info, point liveness)
  in one transaction: acknowledge devices only after it returns.

A device-sent reading replaces a stand-in computed earlier by the rollup (source=computed);
nothing ever overwrites a device-sent reading.
"""

from __future__ import annotations

import hmac
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce, Greatest

from civicloop.lib import clock
from civicloop.monitoring.models import (
    FacilityStatus,
    FacilityStatusKind,
    FrameVerdict,
    MonitoringPoint,
    PointStatus,
    ProtocolEdition,
    RawFrame,
    Reading,
    ReadingKind,
    ReadingSource,
    RejectReason,
    SiteInfo,
)

CODE_MAX_LENGTH = 32
FLAG_MAX_LENGTH = 8
# Columns of the readings table in the order the writer sends them.
KEY_COLUMNS = ("point_id", "kind", "code", "data_time")
VALUE_COLUMNS = ("rtd", "avg", "min", "max", "cou", "zs_rtd", "zs_avg", "zs_min", "zs_max")
DATA_COLUMNS = (*VALUE_COLUMNS, "flag", "eflag", "sample_time", "source")
READING_COLUMNS = (*KEY_COLUMNS, *DATA_COLUMNS, "received_at")
RAW_FRAME_COLUMNS = (
    "received_at", "peer", "mn", "cn", "verdict", "reason", "crc_variant", "detail", "raw",
    "point_id",
)  # fmt: skip
_STAGE_TABLE = "monitoring_reading_stage"
# Choices' .values is rebuilt on every access; rows are validated by the thousand.
_READINGKIND_VALUES = frozenset(ReadingKind.values)
_READINGSOURCE_VALUES = frozenset(ReadingSource.values)
_FACILITYSTATUSKIND_VALUES = frozenset(FacilityStatusKind.values)
_FRAMEVERDICT_VALUES = frozenset(FrameVerdict.values)
_REJECTREASON_VALUES = frozenset(RejectReason.values)
_PROTOCOLEDITION_VALUES = frozenset(ProtocolEdition.values)


@dataclass(frozen=True, slots=True)
class PointAuth:
    """What the listener needs to accept or reject a device's packet."""

    point_id: int
    mn: str
    password: str
    crc_variant: str
    status: str
    protocol_edition: str

    @property
    def is_disabled(self) -> bool:
        return self.status == PointStatus.DISABLED

    def password_matches(self, password: str) -> bool:
        return hmac.compare_digest(self.password.encode(), password.encode())


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingRow:
    point_id: int
    kind: int  # ReadingKind: 2011 / 2051 / 2061 / 2031
    code: str
    data_time: datetime
    rtd: float | None = None
    avg: float | None = None
    min: float | None = None
    max: float | None = None
    cou: float | None = None
    zs_rtd: float | None = None
    zs_avg: float | None = None
    zs_min: float | None = None
    zs_max: float | None = None
    flag: str = ""
    eflag: str = ""
    sample_time: datetime | None = None
    source: int = ReadingSource.DEVICE
    received_at: datetime | None = None  # None: the time of the store call

    def __post_init__(self) -> None:
        # Built by the thousand per second: the common case is checked in a few comparisons,
        # the named checks below only run to say what is wrong.
        if (
            self.kind in _READINGKIND_VALUES
            and self.source in _READINGSOURCE_VALUES
            and 0 < len(self.code) <= CODE_MAX_LENGTH
            and len(self.flag) <= FLAG_MAX_LENGTH
            and len(self.eflag) <= FLAG_MAX_LENGTH
            and (self.data_time is None or self.data_time.utcoffset() is not None)
            and (self.sample_time is None or self.sample_time.utcoffset() is not None)
            and (self.received_at is None or self.received_at.utcoffset() is not None)
            # One C-level pass: any inf or NaN makes the sum non-finite (so may a huge finite
            # value: then the named checks below run and pass).
            and math.isfinite(sum(filter(None, _reading_numbers(self))))
        ):
            return
        _require_choice("kind", self.kind, _READINGKIND_VALUES)
        _require_choice("source", self.source, _READINGSOURCE_VALUES)
        _require_text("code", self.code, CODE_MAX_LENGTH)
        _require_short("flag", self.flag, FLAG_MAX_LENGTH)
        _require_short("eflag", self.eflag, FLAG_MAX_LENGTH)
        _require_aware("data_time", self.data_time)
        _require_aware("sample_time", self.sample_time)
        _require_aware("received_at", self.received_at)
        for name in VALUE_COLUMNS:
            _require_finite(name, getattr(self, name))

    @property
    def key(self) -> tuple[int, int, str, datetime]:
        return (self.point_id, self.kind, self.code, self.data_time)


_reading_numbers = operator.attrgetter(*VALUE_COLUMNS)
READING_FIELDS = tuple(f.name for f in fields(ReadingRow))
# What a ReadingRow holds when only its key is given, in READING_FIELDS order after the key.
READING_DEFAULTS = tuple(f.default for f in fields(ReadingRow))[len(KEY_COLUMNS) :]
_READING_SETTERS = tuple(getattr(ReadingRow, name).__set__ for name in READING_FIELDS)


def reading_from_fields(values: Sequence[Any]) -> ReadingRow:
    """`ReadingRow(**dict(zip(READING_FIELDS, values)))`, with the same checks, in about half
    the time: the listener builds one per reading, and the generated frozen `__init__` spends
    most of its time on its 18 keyword arguments and attribute stores."""
    row = object.__new__(ReadingRow)
    for store, value in zip(_READING_SETTERS, values, strict=True):  # slots: no frozen check
        store(row, value)
    row.__post_init__()
    return row


_reading_data = operator.attrgetter(*DATA_COLUMNS[:-1])


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRow:
    point_id: int
    kind: int  # FacilityStatusKind: 2021 (SBxxx-RS) / 2041 (SBxxx-RT)
    code: str
    data_time: datetime
    value: float | None
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_choice("kind", self.kind, _FACILITYSTATUSKIND_VALUES)
        _require_text("code", self.code, CODE_MAX_LENGTH)
        _require_aware("data_time", self.data_time)
        _require_aware("received_at", self.received_at)
        _require_finite("value", self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteInfoRow:
    point_id: int
    data_time: datetime
    info_id: str
    value: str
    pol_id: str = ""
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_text("info_id", self.info_id, CODE_MAX_LENGTH)
        _require_short("pol_id", self.pol_id, CODE_MAX_LENGTH)
        _require_aware("data_time", self.data_time)
        _require_aware("received_at", self.received_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class RawFrameRow:
    """One packet as received. Over-long peer/MN/detail strings are cut, never refused."""

    received_at: datetime
    raw: bytes
    verdict: str  # FrameVerdict
    peer: str = ""
    mn: str = ""
    cn: str = ""
    reason: str = ""  # RejectReason, empty when accepted
    crc_variant: str = ""  # the CRC rule that accepted the frame
    detail: str = ""
    point_id: int | None = None  # None: quarantined (unknown MN, wrong password)

    def __post_init__(self) -> None:
        _require_aware("received_at", self.received_at)
        _require_choice("verdict", self.verdict, _FRAMEVERDICT_VALUES)
        if self.verdict == FrameVerdict.ACCEPTED and (self.reason or self.point_id is None):
            raise ValueError("an accepted frame needs a point and no reject reason")
        if self.verdict == FrameVerdict.REJECTED:
            _require_choice("reason", self.reason, _REJECTREASON_VALUES)


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteBatch:
    frames: Sequence[RawFrameRow] = ()
    readings: Sequence[ReadingRow] = ()
    statuses: Sequence[StatusRow] = ()
    site_infos: Sequence[SiteInfoRow] = ()
    editions: Mapping[int, str] = field(default_factory=dict)  # point_id → ProtocolEdition


@dataclass(frozen=True, slots=True)
class BatchResult:
    frames: int
    readings: int
    statuses: int
    site_infos: int


def point_lookup(mn: str) -> PointAuth | None:
    """The credentials of the point with this MN, or None for an unknown MN."""
    row = (
        MonitoringPoint.objects.filter(mn=mn)
        .values_list("pk", "mn", "password", "crc_variant", "status", "protocol_edition")
        .first()
    )
    return PointAuth(*row) if row else None


def store_batch(batch: WriteBatch) -> BatchResult:
    """Everything of one batch in one transaction, plus the points' last_seen/last_data_time."""
    with transaction.atomic():
        result = BatchResult(
            frames=store_raw_frames(batch.frames),
            readings=store_readings(batch.readings),
            statuses=store_status(batch.statuses),
            site_infos=store_site_info(batch.site_infos),
        )
        seen = _seen_in(batch)
        if batch.editions and connection.vendor == "postgresql":
            _lock_points(seen.keys() | batch.editions.keys())  # before any point is updated
        for point_id, edition in sorted(batch.editions.items()):
            record_protocol_edition(point_id=point_id, edition=edition)
        mark_points_seen(seen)
    return result


def _lock_points(point_ids: Iterable[int]) -> None:
    lock_sql, _update_sql = _points_seen_sql(_quote(MonitoringPoint._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(lock_sql, [sorted(point_ids)])


def store_readings(rows: Sequence[ReadingRow]) -> int:
    """Insert readings; return how many were written (new, or replacing a computed stand-in).

    Within `rows` the first row of a (point, kind, code, data_time) wins. PostgreSQL: COPY into
    a session temp table, then INSERT … SELECT … ON CONFLICT. SQLite: executemany of the same
    INSERT … ON CONFLICT (not INSERT OR IGNORE, which would also hide NOT NULL/CHECK errors).
    """
    unique = _first_per_key(rows)
    if not unique:
        return 0
    received_at = clock.now()
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return _copy_readings(cursor, [_reading_values(r, received_at) for r in unique])
        values = [_adapted(_reading_values(r, received_at)) for r in unique]
        cursor.executemany(_readings_upsert_sql(source=None), values)
        return cursor.rowcount


def store_status(rows: Sequence[StatusRow]) -> int:
    """Insert facility status values (CN 2021/2041); return how many were new."""
    received_at = clock.now()
    values = [
        (r.point_id, int(r.kind), r.code, r.data_time, r.value, r.received_at or received_at)
        for r in rows
    ]
    columns = ("point_id", "kind", "code", "data_time", "value", "received_at")
    return _insert_new(FacilityStatus._meta.db_table, columns, columns[:4], values)


def store_site_info(rows: Sequence[SiteInfoRow]) -> int:
    """Insert site information values (CN 3020); return how many were new."""
    received_at = clock.now()
    values = [
        (r.point_id, r.pol_id, r.info_id, r.data_time, r.value, r.received_at or received_at)
        for r in rows
    ]
    columns = ("point_id", "pol_id", "info_id", "data_time", "value", "received_at")
    return _insert_new(SiteInfo._meta.db_table, columns, columns[:4], values)


def store_raw_frames(frames: Sequence[RawFrameRow]) -> int:
    """Append raw frames (never deduplicated: each received packet is an audit record).

    PostgreSQL: COPY straight into the table (one per batch, in the batch's transaction);
    SQLite: executemany. The rows were validated when they were built (`RawFrameRow`), and
    the table's check constraint holds the verdict rule too.
    """
    if not frames:
        return 0
    values = [_raw_frame_values(frame) for frame in frames]
    columns = _column_list(RAW_FRAME_COLUMNS)
    table = _quote(RawFrame._meta.db_table)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(RAW_FRAME_COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",
                [_adapted(row) for row in values],
            )
    return len(values)


def record_protocol_edition(*, point_id: int, edition: str) -> bool:
    """Record the HJ 212 edition detected for a point; True if it changed.

    "unknown" never replaces a known edition.
    """
    _require_choice("edition", edition, _PROTOCOLEDITION_VALUES)
    if edition == ProtocolEdition.UNKNOWN:
        return False
    points = MonitoringPoint.objects.filter(pk=point_id).exclude(protocol_edition=edition)
    return points.update(protocol_edition=edition) == 1


@dataclass(frozen=True, slots=True)
class PointSeen:
    at: datetime
    data_time: datetime | None = None


def mark_points_seen(seen: Mapping[int, PointSeen]) -> None:
    """Move last_seen_at/last_data_time forward (never back); an offline point is active again."""
    if not seen:
        return
    ordered = sorted(seen.items())  # one lock order for concurrent writers
    if connection.vendor != "postgresql":
        for point_id, point_seen in ordered:
            _mark_point_seen(point_id, point_seen)
        return
    lock_sql, update_sql = _points_seen_sql(_quote(MonitoringPoint._meta.db_table))
    lock_params, update_params = _points_seen_params(ordered)
    with connection.cursor() as cursor:
        cursor.execute(lock_sql, lock_params)
        cursor.execute(update_sql, update_params)


def _points_seen_sql(table: str) -> tuple[str, str]:
    """PostgreSQL: lock the points in id order, then move them forward in one UPDATE.

    Concurrent writers (the ingest service's writer connections, several listeners) take
    the points in one order, so they wait for each other and never deadlock. NO KEY UPDATE,
    not UPDATE: the readings' and raw frames' deferred foreign keys take KEY SHARE locks on
    the same points at commit, which an UPDATE lock would block (and then deadlock).
    """
    return (
        f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
        f"UPDATE {table} AS p SET "
        "last_seen_at = GREATEST(COALESCE(p.last_seen_at, v.seen_at), v.seen_at), "
        "last_data_time = CASE WHEN v.data_time IS NULL THEN p.last_data_time "
        "ELSE GREATEST(COALESCE(p.last_data_time, v.data_time), v.data_time) END, "
        "status = CASE WHEN p.status = %s THEN %s ELSE p.status END "
        "FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) "
        "AS v(id, seen_at, data_time) WHERE p.id = v.id",
    )


def _points_seen_params(ordered: list[tuple[int, PointSeen]]) -> tuple[list[Any], list[Any]]:
    ids = [point_id for point_id, _ in ordered]
    return [ids], [
        str(PointStatus.OFFLINE),
        str(PointStatus.ACTIVE),
        ids,
        [point_seen.at for _, point_seen in ordered],
        [point_seen.data_time for _, point_seen in ordered],
    ]


def _mark_point_seen(point_id: int, point_seen: PointSeen) -> None:
    updates: dict[str, Any] = {
        "last_seen_at": _later("last_seen_at", point_seen.at),
        "status": Case(
            When(status=PointStatus.OFFLINE, then=Value(PointStatus.ACTIVE)),
            default=F("status"),
        ),
    }
    if point_seen.data_time is not None:
        updates["last_data_time"] = _later("last_data_time", point_seen.data_time)
    MonitoringPoint.objects.filter(pk=point_id).update(**updates)


_reading_key = operator.attrgetter(*KEY_COLUMNS)  # ReadingRow.key without a property call


def _first_per_key(rows: Sequence[ReadingRow]) -> list[ReadingRow]:
    unique: dict[tuple[int, int, str, datetime], ReadingRow] = {}
    for row in rows:
        unique.setdefault(_reading_key(row), row)
    return list(unique.values())


def _reading_values(row: ReadingRow, received_at: datetime) -> tuple[Any, ...]:
    # Plain ints: choices members are Enums, which psycopg would dump by name.
    return (
        row.point_id,
        int(row.kind),
        row.code,
        row.data_time,
        *_reading_data(row),
        int(row.source),
        row.received_at or received_at,
    )


def _copy_readings(cursor: CursorWrapper, values: list[tuple[Any, ...]]) -> int:
    """COPY the rows straight into the table; on a key conflict, stage and upsert them.

    Live data is almost always new, and a plain COPY costs about half of COPY into a stage
    plus INSERT … SELECT … ON CONFLICT. A conflict (a retransmission whose answer was lost, an
    overlapping back-fill, a computed stand-in to replace) rolls the COPY back to a savepoint
    and takes the upsert path; after one, the next few calls go straight to the upsert.
    """
    if _direct_copy.allowed():
        try:
            with transaction.atomic():  # a savepoint: a conflict undoes the COPY only
                _copy_into(cursor, _quote(Reading._meta.db_table), values)
        except psycopg.errors.UniqueViolation:
            _direct_copy.conflicted()
        else:
            return len(values)
    return _upsert_readings(cursor, values)


def _copy_into(cursor: CursorWrapper, table: str, values: list[tuple[Any, ...]]) -> None:
    with cursor.cursor.copy(f"COPY {table} ({_column_list(READING_COLUMNS)}) FROM STDIN") as copy:
        for row in values:
            copy.write_row(row)


def _upsert_readings(cursor: CursorWrapper, values: list[tuple[Any, ...]]) -> int:
    columns = _column_list(READING_COLUMNS)
    table = _quote(Reading._meta.db_table)
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE_TABLE} ON COMMIT DELETE ROWS AS "
        f"SELECT {columns} FROM {table} WITH NO DATA"
    )
    _copy_into(cursor, _STAGE_TABLE, values)
    cursor.execute(_readings_upsert_sql(source=_STAGE_TABLE))
    written: int = cursor.rowcount
    # The stage empties at commit; empty it now too for a later call in the same transaction.
    cursor.execute(f"DELETE FROM {_STAGE_TABLE}")
    return written


class _DirectCopy:
    """After a conflict, skip the direct COPY for a while (retransmissions come in bursts)."""

    SKIP_AFTER_CONFLICT = 20  # calls

    def __init__(self) -> None:
        self._skip = 0

    def allowed(self) -> bool:
        if self._skip > 0:
            self._skip -= 1
            return False
        return True

    def conflicted(self) -> None:
        self._skip = self.SKIP_AFTER_CONFLICT


_direct_copy = _DirectCopy()


def _readings_upsert_sql(*, source: str | None) -> str:
    """INSERT … ON CONFLICT that only ever replaces a computed row, and only if it changed."""
    table = _quote(Reading._meta.db_table)
    columns = _column_list(READING_COLUMNS)
    if source is None:
        rows = f"VALUES ({', '.join(['%s'] * len(READING_COLUMNS))})"
    else:
        rows = f"SELECT {columns} FROM {source} WHERE true"
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    changed = " OR ".join(
        f"{table}.{_quote(name)} {distinct} excluded.{_quote(name)}" for name in DATA_COLUMNS
    )
    assignments = ", ".join(
        f"{_quote(name)} = excluded.{_quote(name)}" for name in (*DATA_COLUMNS, "received_at")
    )
    return (
        f"INSERT INTO {table} ({columns}) {rows} "
        f"ON CONFLICT ({_column_list(KEY_COLUMNS)}) DO UPDATE SET {assignments} "
        f"WHERE {table}.{_quote('source')} = {int(ReadingSource.COMPUTED)} AND ({changed})"
    )


def _insert_new(
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    values: Sequence[tuple[Any, ...]],
) -> int:
    if not values:
        return 0
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.executemany(_insert_new_sql(table, columns, key), [_adapted(row) for row in values])
        return cursor.rowcount


def _insert_new_sql(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    return (
        f"INSERT INTO {_quote(table)} ({_column_list(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({_column_list(key)}) DO NOTHING"
    )


def _adapted(values: Iterable[Any]) -> tuple[Any, ...]:
    """Datetimes as the backend stores them (SQLite: naive UTC text); the rest unchanged."""
    ops = connection.ops
    return tuple(
        ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value
        for value in values
    )


def _raw_frame_values(frame: RawFrameRow) -> tuple[Any, ...]:
    # str(): choices members are Enums, which psycopg would dump by name.
    return (
        frame.received_at,
        frame.peer[:64],
        frame.mn[:64],
        frame.cn[:8],
        str(frame.verdict),
        str(frame.reason),
        str(frame.crc_variant),
        frame.detail[:200],
        frame.raw,
        frame.point_id,
    )


def _seen_in(batch: WriteBatch) -> dict[int, PointSeen]:
    seen_at: dict[int, datetime] = {}
    for frame in batch.frames:
        if frame.verdict == FrameVerdict.ACCEPTED and frame.point_id is not None:
            _keep_latest(seen_at, frame.point_id, frame.received_at)
    data_time: dict[int, datetime] = {}
    for row in batch.readings:
        if row.source == ReadingSource.DEVICE:
            _keep_latest(data_time, row.point_id, row.data_time)
    now = clock.now()
    return {
        point_id: PointSeen(at=seen_at.get(point_id, now), data_time=data_time.get(point_id))
        for point_id in seen_at.keys() | data_time.keys()
    }


def _keep_latest(latest: dict[int, datetime], point_id: int, at: datetime) -> None:
    if point_id not in latest or at > latest[point_id]:
        latest[point_id] = at


def _later(field_name: str, value: datetime) -> Greatest:
    return Greatest(Coalesce(field_name, Value(value)), Value(value))


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _column_list(names: Iterable[str]) -> str:
    return ", ".join(_quote(name) for name in names)


def _require_choice(name: str, value: object, allowed: Iterable[object]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of the allowed values")


def _require_text(name: str, value: str, max_length: int) -> None:
    if not value:
        raise ValueError(f"{name} must not be empty")
    _require_short(name, value, max_length)


def _require_short(name: str, value: str, max_length: int) -> None:
    if len(value) > max_length:
        raise ValueError(f"{name}={value!r} is longer than {max_length} characters")


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be an aware datetime")


def _require_finite(name: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not a finite number")


# ---- PostgreSQL on an asyncio connection ----------------------------------------------------
#
# The ingest service writes from its event loop through a psycopg AsyncConnection instead of a
# thread with a Django connection: a writer thread waiting for the database gives up the GIL
# at every round trip and then queues behind the busy event loop for it again (measured: a
# batch took 4× longer next to a CPU-bound thread). Same SQL, same transaction, same result
# as `store_batch`; PostgreSQL only.


@dataclass(frozen=True, slots=True)
class _PgSql:
    raw_frames_copy: str
    readings_copy: str
    stage_create: str
    stage_copy: str
    readings_upsert: str
    stage_clear: str
    status_insert: str
    site_info_insert: str
    edition_update: str
    points_lock: str
    points_update: str


_pg_sql_cache: list[_PgSql] = []


def _pg_sql() -> _PgSql:
    """SQL texts built once (quoting through Django's PostgreSQL operations, no query)."""
    if _pg_sql_cache:
        return _pg_sql_cache[0]
    readings = _quote(Reading._meta.db_table)
    reading_columns = _column_list(READING_COLUMNS)
    status_columns = ("point_id", "kind", "code", "data_time", "value", "received_at")
    site_columns = ("point_id", "pol_id", "info_id", "data_time", "value", "received_at")
    points = _quote(MonitoringPoint._meta.db_table)
    points_lock, points_update = _points_seen_sql(points)
    sql = _PgSql(
        raw_frames_copy=(
            f"COPY {_quote(RawFrame._meta.db_table)} ({_column_list(RAW_FRAME_COLUMNS)}) FROM STDIN"
        ),
        readings_copy=f"COPY {readings} ({reading_columns}) FROM STDIN",
        stage_create=(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE_TABLE} ON COMMIT DELETE ROWS AS "
            f"SELECT {reading_columns} FROM {readings} WITH NO DATA"
        ),
        stage_copy=f"COPY {_STAGE_TABLE} ({reading_columns}) FROM STDIN",
        readings_upsert=_readings_upsert_sql(source=_STAGE_TABLE),
        stage_clear=f"DELETE FROM {_STAGE_TABLE}",
        status_insert=_insert_new_sql(
            FacilityStatus._meta.db_table, status_columns, status_columns[:4]
        ),
        site_info_insert=_insert_new_sql(SiteInfo._meta.db_table, site_columns, site_columns[:4]),
        edition_update=(
            f"UPDATE {points} SET protocol_edition = %s WHERE id = %s AND protocol_edition <> %s"
        ),
        points_lock=points_lock,
        points_update=points_update,
    )
    _pg_sql_cache.append(sql)
    return sql


async def store_batch_async(conn: psycopg.AsyncConnection[Any], batch: WriteBatch) -> BatchResult:
    """`store_batch` on a psycopg AsyncConnection (PostgreSQL), in one transaction.

    Readings are COPYed straight into their table, without a savepoint (two round trips
    less per batch); on a key conflict the whole transaction is rolled back and the batch is
    stored again with the staged upsert (conflicts are rare: a retransmission whose answer
    was lost, an overlapping back-fill, a computed stand-in to replace).
    """
    if _direct_copy.allowed():
        try:
            return await _store_batch_async(conn, batch, direct=True)
        except psycopg.errors.UniqueViolation:
            _direct_copy.conflicted()
    return await _store_batch_async(conn, batch, direct=False)


class CopyTimes:
    """Aware datetimes as the COPY text psycopg would send (`str(value)`), each distinct
    value formatted once per batch.

    psycopg picks and runs a dumper for every datetime it formats: about 1.4 µs each, most of
    a reading's COPY formatting. A batch's rows share their `received_at`, and devices share
    their minutes, so a batch has few distinct values.
    """

    __slots__ = ("_texts",)

    def __init__(self) -> None:
        self._texts: dict[datetime, str] = {}

    def __call__(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        text = self._texts.get(value)
        if text is None:
            # Equal aware datetimes are the same instant, so one text serves them all.
            text = self._texts[value] = str(value)
        return text


def _raw_frame_copy_values(frame: RawFrameRow, times: CopyTimes) -> tuple[Any, ...]:
    return (times(frame.received_at), *_raw_frame_values(frame)[1:])


def _reading_copy_values(row: ReadingRow, received_at: str, times: CopyTimes) -> tuple[Any, ...]:
    """`_reading_values` with the datetimes as COPY text (`CopyTimes`)."""
    return (
        row.point_id,
        int(row.kind),
        row.code,
        times(row.data_time),
        *_reading_numbers(row),
        row.flag,
        row.eflag,
        times(row.sample_time),
        int(row.source),
        times(row.received_at) if row.received_at is not None else received_at,
    )


async def _store_batch_async(
    conn: psycopg.AsyncConnection[Any], batch: WriteBatch, *, direct: bool
) -> BatchResult:
    sql = _pg_sql()
    received_at = clock.now()
    times = CopyTimes()
    async with conn.transaction(), conn.cursor() as cursor:
        if batch.frames:
            async with cursor.copy(sql.raw_frames_copy) as copy:
                for frame in batch.frames:
                    await copy.write_row(_raw_frame_copy_values(frame, times))
        readings = await _store_readings_async(
            cursor, batch.readings, times(received_at) or "", times, sql, direct=direct
        )
        statuses = await _insert_many_async(
            cursor,
            sql.status_insert,
            [
                (
                    r.point_id,
                    int(r.kind),
                    r.code,
                    r.data_time,
                    r.value,
                    r.received_at or received_at,
                )
                for r in batch.statuses
            ],
        )
        site_infos = await _insert_many_async(
            cursor,
            sql.site_info_insert,
            [
                (
                    r.point_id,
                    r.pol_id,
                    r.info_id,
                    r.data_time,
                    r.value,
                    r.received_at or received_at,
                )
                for r in batch.site_infos
            ],
        )
        seen = _seen_in(batch)
        if seen or batch.editions:  # every point this batch updates, locked in one order
            await cursor.execute(sql.points_lock, [sorted(seen.keys() | batch.editions.keys())])
        for point_id, edition in sorted(batch.editions.items()):
            _require_choice("edition", edition, _PROTOCOLEDITION_VALUES)
            if edition != ProtocolEdition.UNKNOWN:
                await cursor.execute(sql.edition_update, [str(edition), point_id, str(edition)])
        if seen:
            _lock_params, update_params = _points_seen_params(sorted(seen.items()))
            await cursor.execute(sql.points_update, update_params)
    return BatchResult(
        frames=len(batch.frames), readings=readings, statuses=statuses, site_infos=site_infos
    )


async def _store_readings_async(
    cursor: psycopg.AsyncCursor[Any],
    rows: Sequence[ReadingRow],
    received_at: str,
    times: CopyTimes,
    sql: _PgSql,
    *,
    direct: bool,
) -> int:
    """A direct COPY (a key conflict aborts the transaction), or the staged upsert."""
    unique = _first_per_key(rows)
    if not unique:
        return 0
    values = [_reading_copy_values(row, received_at, times) for row in unique]
    if direct:
        async with cursor.copy(sql.readings_copy) as copy:
            for row in values:
                await copy.write_row(row)
        return len(values)
    await cursor.execute(sql.stage_create)
    async with cursor.copy(sql.stage_copy) as copy:
        for row in values:
            await copy.write_row(row)
    await cursor.execute(sql.readings_upsert)
    written = cursor.rowcount
    await cursor.execute(sql.stage_clear)
    return written


async def _insert_many_async(
    cursor: psycopg.AsyncCursor[Any], sql: str, values: list[tuple[Any, ...]]
) -> int:
    if not values:
        return 0
    await cursor.executemany(sql, values)
    return cursor.rowcount
