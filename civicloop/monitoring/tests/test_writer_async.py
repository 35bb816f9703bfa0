"""`store_batch_async`: the ingest service's PostgreSQL writer gives what `store_batch` gives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import connection

from civicloop.monitoring.models import (
    FrameVerdict,
    MonitoringPoint,
    PointStatus,
    ProtocolEdition,
    RawFrame,
    Reading,
    ReadingKind,
    ReadingSource,
)
from civicloop.monitoring.tests.conftest import T0
from civicloop.monitoring.tests.test_writer import RAW, minute_rows
from civicloop.monitoring.writer import (
    BatchResult,
    CopyTimes,
    RawFrameRow,
    ReadingRow,
    SiteInfoRow,
    StatusRow,
    WriteBatch,
    _pg_sql,
    _points_seen_sql,
    _raw_frame_values,
    store_batch_async,
    store_readings,
)

# The async connection is a second session: it sees only committed points.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _conninfo() -> str:
    settings = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        host=settings["HOST"] or None,
        port=str(settings["PORT"]) if settings["PORT"] else None,
        password=settings["PASSWORD"] or None,
    )


def store(batch: WriteBatch) -> BatchResult:
    async def run() -> BatchResult:
        async with await psycopg.AsyncConnection.connect(_conninfo(), autocommit=True) as conn:
            return await store_batch_async(conn, batch)

    return asyncio.run(run())


def frame(point: MonitoringPoint, received_at: datetime = T0) -> RawFrameRow:
    return RawFrameRow(
        received_at=received_at,
        raw=RAW,
        verdict=FrameVerdict.ACCEPTED,
        mn=point.mn,
        cn="2051",
        point_id=point.pk,
    )


def test_writes_everything_and_marks_the_point_seen(point):
    point.status = PointStatus.OFFLINE
    point.save(update_fields=["status"])
    received = T0 + timedelta(seconds=40)
    batch = WriteBatch(
        frames=[frame(point, received)],
        readings=minute_rows(point),
        statuses=[StatusRow(point_id=point.pk, kind=2021, code="SB1", data_time=T0, value=1)],
        site_infos=[SiteInfoRow(point_id=point.pk, data_time=T0, info_id="i12001", value="0")],
        editions={point.pk: ProtocolEdition.HJ212_2017},
    )

    result = store(batch)

    assert (result.frames, result.readings, result.statuses, result.site_infos) == (1, 3, 1, 1)
    point.refresh_from_db()
    assert (point.last_seen_at, point.last_data_time) == (received, T0)
    assert (point.status, point.protocol_edition) == (PointStatus.ACTIVE, "2017")
    stored = Reading.objects.get(code="w21003")
    assert (stored.avg, stored.flag, stored.eflag) == (0.5, "D", "A01")
    assert bytes(RawFrame.objects.get().raw) == RAW


def test_a_retransmission_takes_the_upsert_path_and_counts_nothing(point):
    batch = WriteBatch(frames=[frame(point)], readings=minute_rows(point))
    later = [
        ReadingRow(point_id=point.pk, kind=ReadingKind.MINUTE, code="w01018", data_time=t, avg=1)
        for t in (T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))
    ]

    first, again = store(batch), store(batch)
    # A batch mixing a stored key and new ones: the new ones are written, the old one kept.
    mixed = store(WriteBatch(frames=[frame(point)], readings=[*minute_rows(point)[:1], *later]))

    assert (first.readings, again.readings, mixed.readings) == (3, 0, 2)
    assert Reading.objects.count() == 5
    assert Reading.objects.get(code="w01018", data_time=T0).avg == 25.5
    assert RawFrame.objects.count() == 3  # every received packet is an audit record


def test_a_device_value_replaces_a_computed_one(point):
    computed = ReadingRow(
        point_id=point.pk,
        kind=ReadingKind.HOUR,
        code="w01018",
        data_time=T0,
        avg=20.0,
        source=ReadingSource.COMPUTED,
    )
    store_readings([computed])
    device = ReadingRow(
        point_id=point.pk, kind=ReadingKind.HOUR, code="w01018", data_time=T0, avg=21.5
    )

    result = store(WriteBatch(frames=[frame(point)], readings=[device]))

    assert result.readings == 1
    stored = Reading.objects.get()
    assert (stored.avg, stored.source) == (21.5, ReadingSource.DEVICE)


def test_a_writer_holding_the_points_does_not_block_another_writers_commit(point):
    """The points lock and the deferred foreign keys of a concurrent batch are compatible.

    A writer holds its points (locked before moving last_seen_at) while another writer's
    batch for the same point commits: the commit's foreign-key check takes a KEY SHARE lock
    on the point, which must not wait (with FOR UPDATE it did, and two writers deadlocked).
    """
    lock_sql, _update_sql = _points_seen_sql('"monitoring_monitoringpoint"')
    with (
        psycopg.connect(_conninfo()) as holder,
        psycopg.connect(_conninfo(), autocommit=True) as other,
    ):
        holder.execute(lock_sql, [[point.pk]])
        other.execute("SET lock_timeout = '2s'")
        with other.transaction(), other.cursor().copy(_pg_sql().raw_frames_copy) as copy:
            copy.write_row(_raw_frame_values(frame(point)))  # commits: LockNotAvailable if not
        holder.rollback()
    assert RawFrame.objects.filter(point=point).count() == 1


def test_times_in_any_zone_are_stored_as_the_same_instants(point):
    """The COPY sends each distinct datetime once as text (`CopyTimes`); the instants hold."""
    shanghai = ZoneInfo("Asia/Shanghai")
    local = datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=shanghai)
    sample = T0 - timedelta(seconds=30)
    received = T0.astimezone(shanghai) + timedelta(seconds=5)
    rows = [
        ReadingRow(point_id=point.pk, kind=ReadingKind.REALTIME, code="a34004", data_time=t, rtd=1)
        for t in (local, local.astimezone(UTC) + timedelta(minutes=1))
    ]
    sampled = ReadingRow(
        point_id=point.pk,
        kind=ReadingKind.REALTIME,
        code="w01018",
        data_time=local,
        rtd=2,
        sample_time=sample,
        received_at=received,
    )

    store(WriteBatch(frames=[frame(point, received)], readings=[*rows, sampled]))

    assert sorted(Reading.objects.filter(code="a34004").values_list("data_time", flat=True)) == [
        local,
        local + timedelta(minutes=1),
    ]
    stored = Reading.objects.get(code="w01018")
    assert (stored.data_time, stored.sample_time, stored.received_at) == (local, sample, received)
    assert RawFrame.objects.get().received_at == received


def test_copy_times_formats_each_instant_once_as_psycopg_would():
    times = CopyTimes()
    first = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    same_instant = first.astimezone(ZoneInfo("Asia/Shanghai"))

    assert times(first) == str(first) == "2024-05-01 00:00:00+00:00"
    assert times(same_instant) is times(first)
    assert times(None) is None
