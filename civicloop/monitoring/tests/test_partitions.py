from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from civicloop.lib.clock import now
from civicloop.monitoring.models import Reading, ReadingKind
from civicloop.monitoring.partitions import (
    DEFAULT_PARTITION,
    Month,
    ensure_month_partitions,
    is_partitioned,
    months_around,
    partition_tables,
)
from civicloop.monitoring.selectors import readings_for
from civicloop.monitoring.writer import ReadingRow, store_readings

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def reading(point, data_time: datetime, code: str = "w01018", value: float = 1.0) -> ReadingRow:
    return ReadingRow(
        point_id=point.pk, kind=ReadingKind.MINUTE, code=code, data_time=data_time, avg=value
    )


def partition_of(reading_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM monitoring_reading WHERE id = %s", [reading_id]
        )
        return cursor.fetchone()[0]


def test_readings_table_is_partitioned_with_a_default_partition():
    tables = partition_tables()

    assert is_partitioned()
    assert DEFAULT_PARTITION in tables
    # The migration prepared the current month ± 3.
    assert {month.table for month in months_around(now(), before=3, after=3)} <= set(tables)


def test_primary_key_contains_the_partition_key():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'monitoring_reading'::regclass AND contype = 'p'"
        )
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, data_time)"


def test_table_matches_the_model():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod), NOT attnotnull FROM pg_attribute "
            "WHERE attrelid = 'monitoring_reading'::regclass AND attnum > 0 AND NOT attisdropped"
        )
        columns = {name: (type_, nullable) for name, type_, nullable in cursor.fetchall()}

    expected = {
        field.column: (
            field.db_type(connection).replace("varchar", "character varying"),
            field.null,
        )
        for field in Reading._meta.local_fields
    }
    assert columns == expected


def test_create_reading_partitions_command_is_idempotent():
    out = StringIO()
    call_command("create_reading_partitions", "--months=6", stdout=out)
    again = StringIO()
    call_command("create_reading_partitions", "--months=6", stdout=again)

    expected = [month.table for month in months_around(now(), before=0, after=6)[4:]]
    assert out.getvalue().splitlines() == [
        *(f"created {t}" for t in expected),
        "3 partitions created",
    ]
    assert again.getvalue().splitlines() == ["0 partitions created"]
    assert set(expected) <= set(partition_tables())


def test_rows_land_in_their_asia_shanghai_month_partition(point):
    ensure_month_partitions([Month(2031, 1), Month(2031, 2)])
    last_local_minute_of_january = datetime(2031, 1, 31, 15, 59, tzinfo=UTC)
    first_local_minute_of_february = datetime(2031, 1, 31, 16, 0, tzinfo=UTC)

    store_readings(
        [
            reading(point, last_local_minute_of_january),
            reading(point, first_local_minute_of_february),
        ]
    )

    by_time = {r.data_time: partition_of(r.pk) for r in Reading.objects.all()}
    assert by_time == {
        last_local_minute_of_january: "monitoring_reading_p203101",
        first_local_minute_of_february: "monitoring_reading_p203102",
    }


def test_creating_a_month_moves_its_rows_out_of_the_default_partition(point):
    at = datetime(2035, 6, 10, 4, 0, tzinfo=UTC)
    store_readings([reading(point, at), reading(point, at, code="w21003")])
    assert {partition_of(r.pk) for r in Reading.objects.all()} == {DEFAULT_PARTITION}

    assert ensure_month_partitions([Month(2035, 6)]) == ["monitoring_reading_p203506"]

    assert {partition_of(r.pk) for r in Reading.objects.all()} == {"monitoring_reading_p203506"}
    assert Reading.objects.count() == 2
    # The attached partition has the unique index: a retransmission is still a no-op.
    assert store_readings([reading(point, at, value=5.0)]) == 0
    assert store_readings([reading(point, at + timedelta(minutes=1))]) == 1


def test_readings_for_uses_an_index_on_the_month_partition(make_point):
    ensure_month_partitions([Month(2030, 3)])
    points = [make_point(), make_point()]
    start = datetime(2030, 3, 10, 0, 0, tzinfo=UTC)
    rows = [
        reading(point, start + timedelta(minutes=m), code=f"a{c:05d}", value=float(m))
        for point in points
        for c in range(20)
        for m in range(600)
    ]
    assert store_readings(rows) == 24000
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE monitoring_reading")

    query = readings_for(points[0], "a00007", ReadingKind.MINUTE, start, start + timedelta(hours=2))
    plan = query.explain()

    assert query.count() == 120
    # Only the March partition is read, through the unique (point, kind, code, data_time) index.
    assert " monitoring_reading_p203003_point_id_kind_code_data_time_key" in plan
    assert "Seq Scan" not in plan
    assert DEFAULT_PARTITION not in plan


def test_the_rollup_period_query_uses_an_index(make_point):
    ensure_month_partitions([Month(2030, 4)])
    point = make_point()
    start = datetime(2030, 4, 10, 0, 0, tzinfo=UTC)
    rows = [
        reading(point, start + timedelta(minutes=m), code=f"a{c:05d}")
        for c in range(10)
        for m in range(2000)
    ]
    store_readings(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE monitoring_reading")

    plan = Reading.objects.filter(
        point=point,
        kind=ReadingKind.MINUTE,
        data_time__gte=start,
        data_time__lt=start + timedelta(hours=1),
    ).explain()

    assert " monitoring_reading_p203004_point_id_kind_data_time_idx" in plan
    assert "Seq Scan" not in plan
