"""Monthly range partitions of the readings table (PostgreSQL only).

A month is an Asia/Shanghai calendar month, so local-month reports and the daily rows of a month
(whose data_time is local midnight, i.e. 16:00 UTC the day before) live in one partition.
Rows outside every monthly partition land in the default partition; creating their month later
moves them out of it. This module imports no models so that migrations can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connections, transaction
from django.db.backends.utils import CursorWrapper

from civicloop.lib.clock import SHANGHAI, now

PARENT = "monitoring_reading"
DEFAULT_PARTITION = "monitoring_reading_default"


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def containing(cls, at: datetime) -> Month:
        local = at.astimezone(SHANGHAI)
        return cls(local.year, local.month)

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=SHANGHAI)

    @property
    def end(self) -> datetime:
        return self.shift(1).start

    @property
    def table(self) -> str:
        return f"{PARENT}_p{self.year:04d}{self.month:02d}"


def is_postgresql(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"


def is_partitioned(using: str = "default") -> bool:
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass)",
            [PARENT],
        )
        return _true(cursor)


def partition_tables(using: str = "default") -> list[str]:
    """Names of the partitions attached to the readings table, sorted."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY c.relname",
            [PARENT],
        )
        return [name for (name,) in cursor.fetchall()]


def months_around(at: datetime, *, before: int, after: int) -> list[Month]:
    current = Month.containing(at)
    return [current.shift(offset) for offset in range(-before, after + 1)]


def ensure_month_partitions(months: list[Month], *, using: str = "default") -> list[str]:
    """Create the missing partitions of `months`; return the names created (idempotent)."""
    existing = set(partition_tables(using))
    created = []
    for month in sorted(set(months)):
        if month.table in existing:
            continue
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            if _create_partition(cursor, month):
                created.append(month.table)
    return created


def ensure_partitions_around_now(*, before: int, after: int, using: str = "default") -> list[str]:
    return ensure_month_partitions(months_around(now(), before=before, after=after), using=using)


def _create_partition(cursor: CursorWrapper, month: Month) -> bool:
    """Create one month's partition; False if another process created it first."""
    bounds = f"FOR VALUES FROM ({_literal(month.start)}) TO ({_literal(month.end)})"
    # Block inserts into the default partition so no row of this month slips in meanwhile;
    # the lock also serializes concurrent runs of this function.
    cursor.execute(f"LOCK TABLE {DEFAULT_PARTITION} IN SHARE ROW EXCLUSIVE MODE")
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [month.table])
    if _true(cursor):
        return False
    if not _default_has_rows(cursor, month):
        cursor.execute(f"CREATE TABLE {month.table} PARTITION OF {PARENT} {bounds}")
        return True
    # PostgreSQL refuses to create a partition whose rows sit in the default partition:
    # build the table beside it, move the rows, then attach it.
    cursor.execute(
        f"CREATE TABLE {month.table} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    cursor.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
        "WHERE data_time >= %s AND data_time < %s RETURNING *) "
        f"INSERT INTO {month.table} SELECT * FROM moved",
        [month.start, month.end],
    )
    cursor.execute(f"ALTER TABLE {PARENT} ATTACH PARTITION {month.table} {bounds}")
    return True


def _default_has_rows(cursor: CursorWrapper, month: Month) -> bool:
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} "
        "WHERE data_time >= %s AND data_time < %s)",
        [month.start, month.end],
    )
    return _true(cursor)


def _true(cursor: CursorWrapper) -> bool:
    row = cursor.fetchone()
    return bool(row and row[0])


def _literal(at: datetime) -> str:
    # DDL takes no bind parameters; the value is ours (a Month bound), never user input.
    return f"'{at.isoformat()}'"
