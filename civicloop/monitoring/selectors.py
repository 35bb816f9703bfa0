"""Read-side queries over readings. Each one is served by an index (see docs/monitoring.md).

These are not access-scoped: callers that show data to users filter points by region first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from civicloop.lib import clock
from civicloop.monitoring.models import MonitoringPoint, Reading, ReadingKind
from civicloop.monitoring.rollups import hour_start


def readings_for(
    point: MonitoringPoint, code: str, kind: int, start: datetime, end: datetime
) -> QuerySet[Reading]:
    """One factor of one point in [start, end), oldest first.

    Uses the unique (point, kind, code, data_time) index, in the pruned month partitions only.
    """
    return Reading.objects.filter(
        point=point, kind=kind, code=code, data_time__gte=start, data_time__lt=end
    ).order_by("data_time")


def latest_readings(
    point: MonitoringPoint,
    *,
    kind: int = ReadingKind.REALTIME,
    window: timedelta = timedelta(hours=2),
) -> list[Reading]:
    """The latest reading of each code of a point, ordered by code.

    Only codes sent within `window` before the point's latest record of this kind count, so the
    scan stays on the (point, kind, data_time) index however old the point is.
    """
    newest = (
        Reading.objects.filter(point=point, kind=kind)
        .order_by("-data_time")
        .values_list("data_time", flat=True)
        .first()
    )
    if newest is None:
        return []
    ranked = Reading.objects.filter(
        point=point, kind=kind, data_time__gt=newest - window, data_time__lte=newest
    ).annotate(rank=Window(RowNumber(), partition_by=[F("code")], order_by=F("data_time").desc()))
    return list(ranked.filter(rank=1).order_by("code"))


def hourly_series(point: MonitoringPoint, code: str, days: int = 30) -> QuerySet[Reading]:
    """Hourly values (device-sent or computed) of one factor for the last `days` days."""
    end = hour_start(clock.now()) + timedelta(hours=1)
    return readings_for(point, code, ReadingKind.HOUR, end - timedelta(days=days), end)
