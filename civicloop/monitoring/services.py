"""Platform-side jobs over stored data: rollups, the offline sweep, raw-frame retention.

(What the ingestion service calls lives in writer.py.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from civicloop.lib import clock
from civicloop.monitoring.models import (
    MonitoringPoint,
    PointStatus,
    RawFrame,
    Reading,
    ReadingKind,
    ReadingSource,
)
from civicloop.monitoring.rollups import (
    Aggregate,
    Difference,
    Sample,
    Tolerance,
    compare,
    day_start,
    hour_start,
    roll_up_days,
    roll_up_hours,
)
from civicloop.monitoring.writer import ReadingRow, store_readings

logger = logging.getLogger(__name__)

DEFAULT_RAW_RETENTION_DAYS = 90
# Namespace of the PostgreSQL advisory locks a rollup worker takes per point.
_ROLLUP_LOCK_NAMESPACE = 212
_ZS_COLUMNS = ("zs_avg", "zs_min", "zs_max")


@dataclass(frozen=True, slots=True)
class RollupResult:
    written: int
    differences: list[Difference]


@dataclass(slots=True)
class RollupSummary:
    points: int = 0
    skipped: int = 0  # claimed by another worker
    hours_written: int = 0
    days_written: int = 0
    differences: list[Difference] = field(default_factory=list)


def rollup_point_hours(
    *,
    point: MonitoringPoint,
    start: datetime,
    end: datetime,
    tolerance: Tolerance | None = None,
) -> RollupResult:
    """Hourly values from minute data for the local hours starting in [hour(start), hour(end)).

    Device-sent hourly values are kept and compared; the others are written as computed rows.
    """
    first, last = hour_start(start), hour_start(end)
    samples = _samples(point, ReadingKind.MINUTE, first, last)
    aggregates = roll_up_hours(samples, interval_minutes=point.minute_interval)
    return _store_aggregates(point, ReadingKind.HOUR, aggregates, first, last, tolerance)


def rollup_point_days(
    *,
    point: MonitoringPoint,
    start: datetime,
    end: datetime,
    tolerance: Tolerance | None = None,
) -> RollupResult:
    """Daily values from hourly data for the local days starting in [day(start), day(end))."""
    first, last = day_start(start), day_start(end)
    samples = _samples(point, ReadingKind.HOUR, first, last)
    aggregates = roll_up_days(samples)
    return _store_aggregates(point, ReadingKind.DAY, aggregates, first, last, tolerance)


def rollup_recent(*, since: datetime, until: datetime | None = None) -> RollupSummary:
    """Roll up every point with data since `since`: closed hours, then closed local days.

    Safe with several workers: each point is claimed with a transaction-scoped advisory lock on
    PostgreSQL, and the writes are idempotent upserts anyway.
    """
    until = until or clock.now()
    summary = RollupSummary()
    points = MonitoringPoint.objects.filter(last_data_time__gte=since).order_by("pk")
    for point in points.iterator():
        with transaction.atomic():
            if not _claim(point.pk):
                summary.skipped += 1
                continue
            hours = rollup_point_hours(point=point, start=since, end=until)
            days = rollup_point_days(point=point, start=since, end=until)
        summary.points += 1
        summary.hours_written += hours.written
        summary.days_written += days.written
        summary.differences.extend(hours.differences + days.differences)
    return summary


DEFAULT_OFFLINE_AFTER = timedelta(minutes=30)


@transaction.atomic
def mark_silent_points_offline(*, silent_for: timedelta = DEFAULT_OFFLINE_AFTER) -> int:
    """Active points with no accepted frame for `silent_for` (or never) become offline.

    Idempotent, so several listeners may run it at once. On PostgreSQL the points are locked
    in id order, skipping those a writer holds (a point being written to is not silent): an
    UPDATE taking its rows in any order could deadlock with the writer, which locks in id order.
    """
    cutoff = clock.now() - silent_for
    silent = Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True)
    points = MonitoringPoint.objects.filter(silent, status=PointStatus.ACTIVE)
    ids = list(
        points.select_for_update(no_key=True, skip_locked=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    return points.filter(pk__in=ids).update(status=PointStatus.OFFLINE)


def raw_retention_days() -> int:
    days = int(getattr(settings, "MONITORING_RAW_RETENTION_DAYS", DEFAULT_RAW_RETENTION_DAYS))
    if days < 1:
        raise ValueError("MONITORING_RAW_RETENTION_DAYS must be at least 1")
    return days


def prune_raw_frames(
    *, retention_days: int | None = None, dry_run: bool = False, batch_size: int = 5000
) -> int:
    """Delete raw frames received before now − retention; return how many (would) go.

    Deletes in batches of `batch_size` ids so that no single transaction grows huge.
    """
    days = raw_retention_days() if retention_days is None else retention_days
    if days < 1:
        raise ValueError("retention_days must be at least 1")
    old = RawFrame.objects.filter(received_at__lt=clock.now() - timedelta(days=days))
    if dry_run:
        return old.count()
    deleted = 0
    while ids := list(old.order_by("pk").values_list("pk", flat=True)[:batch_size]):
        deleted += RawFrame.objects.filter(pk__in=ids).delete()[0]
    return deleted


def _store_aggregates(
    point: MonitoringPoint,
    kind: ReadingKind,
    aggregates: list[Aggregate],
    first: datetime,
    last: datetime,
    tolerance: Tolerance | None,
) -> RollupResult:
    device = _samples(point, kind, first, last, source=ReadingSource.DEVICE)
    sent = {(sample.code, sample.start) for sample in device}
    received_at = clock.now()
    rows = [
        _computed_row(point, kind, aggregate, received_at)
        for aggregate in aggregates
        if (aggregate.code, aggregate.start) not in sent
    ]
    return RollupResult(
        written=store_readings(rows),
        differences=compare(aggregates, device, tolerance=tolerance),
    )


def _samples(
    point: MonitoringPoint,
    kind: ReadingKind,
    start: datetime,
    end: datetime,
    *,
    source: ReadingSource | None = None,
) -> list[Sample]:
    readings = Reading.objects.filter(
        point=point, kind=kind, data_time__gte=start, data_time__lt=end
    )
    if source is not None:
        readings = readings.filter(source=source)
    columns = ("code", "data_time", "avg", "rtd", "min", "max", "cou", *_ZS_COLUMNS, "flag")
    return [
        Sample(
            code=code,
            start=data_time,
            avg=avg if avg is not None else rtd,
            min=min_,
            max=max_,
            cou=cou,
            zs_avg=zs_avg,
            zs_min=zs_min,
            zs_max=zs_max,
            flag=flag,
        )
        for code, data_time, avg, rtd, min_, max_, cou, zs_avg, zs_min, zs_max, flag in (
            readings.values_list(*columns)
        )
    ]


def _computed_row(
    point: MonitoringPoint, kind: ReadingKind, aggregate: Aggregate, received_at: datetime
) -> ReadingRow:
    return ReadingRow(
        point_id=point.pk,
        kind=kind,
        code=aggregate.code,
        data_time=aggregate.start,
        avg=aggregate.avg,
        min=aggregate.min,
        max=aggregate.max,
        cou=aggregate.cou,
        zs_avg=aggregate.zs_avg,
        zs_min=aggregate.zs_min,
        zs_max=aggregate.zs_max,
        flag=aggregate.flag,
        source=ReadingSource.COMPUTED,
        received_at=received_at,
    )


def _claim(point_id: int) -> bool:
    """Take this point for the current transaction; False if another worker has it."""
    if connection.vendor != "postgresql":
        return True  # SQLite has one writer at a time
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", [_ROLLUP_LOCK_NAMESPACE, point_id]
        )
        row = cursor.fetchone()
    return bool(row and row[0])
