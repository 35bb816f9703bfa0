"""Replay stored HJ 212 raw frames (`civicloop hj212 replay`): judge them again, store what passes.

A frame quarantined because its MN was not registered yet (or its password was wrong) becomes
data once the point is set up: it is decoded from its raw bytes and judged by the listener's
own `frame_record`, and an accepted record's rows go through the monitoring writer's
functions. Readings, statuses and site information are unique per key, so replaying a frame
twice stores nothing new. Nothing is sent anywhere (there is no device on the line).

The raw frame row itself is not appended again: a rejected frame that now passes is updated
in place to `accepted` (linked to its point, the former reason kept in `detail`), so the
audit table still holds one row per received packet and a second run finds nothing to do.
MQTT payloads (peer `mqtt:…`) are JSON, not HJ 212, and are left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest

from civicloop.ingest.hj212 import MAX_LENGTH, CrcMode, DecodedFrame, decode
from civicloop.ingest.records import IngestRecord, frame_record
from civicloop.lib import clock
from civicloop.monitoring.models import FrameVerdict, MonitoringPoint, RawFrame, RejectReason
from civicloop.monitoring.writer import (
    PointAuth,
    point_lookup,
    record_protocol_edition,
    store_readings,
    store_site_info,
    store_status,
)

DETAIL_MAX_LENGTH = 200
_CHUNK = 500  # raw frames loaded at a time


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaySelection:
    """Which stored frames to replay; every criterion given must hold."""

    ids: tuple[int, ...] = ()
    mn: str | None = None
    since: datetime | None = None  # received at or after
    until: datetime | None = None  # received before
    verdict: str | None = FrameVerdict.REJECTED  # None: both
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """One frame replayed: what it was, what it is now, what was (or would be) stored."""

    frame_id: int
    mn: str
    cn: str
    was: str  # "accepted" or the reject reason
    reason: str  # "" when accepted now, else the reject reason now
    rows: int  # readings, statuses and site information the frame carries
    stored: int  # of those, newly written (0 in a dry run)

    @property
    def accepted(self) -> bool:
        return not self.reason


@dataclass(slots=True)
class ReplaySummary:
    frames: int = 0
    accepted: int = 0
    stored: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: ReplayOutcome) -> None:
        self.frames += 1
        if outcome.accepted:
            self.accepted += 1
            self.stored += outcome.stored
        else:
            self.rejected[outcome.reason] += 1


def selected_frames(selection: ReplaySelection) -> QuerySet[RawFrame]:
    frames = RawFrame.objects.exclude(peer__startswith="mqtt:").order_by("received_at", "pk")
    if selection.ids:
        frames = frames.filter(pk__in=selection.ids)
    if selection.mn is not None:
        frames = frames.filter(mn=selection.mn)
    if selection.since is not None:
        frames = frames.filter(received_at__gte=selection.since)
    if selection.until is not None:
        frames = frames.filter(received_at__lt=selection.until)
    if selection.verdict is not None:
        frames = frames.filter(verdict=selection.verdict)
    if selection.reasons:
        frames = frames.filter(reason__in=selection.reasons)
    return frames


def replay_frames(
    selection: ReplaySelection, *, dry_run: bool = False, max_length: int = MAX_LENGTH
) -> Iterator[ReplayOutcome]:
    """Replay the selected frames oldest first, one transaction per frame."""
    points: dict[str, PointAuth | None] = {}
    # The ids first, then the rows in chunks: no cursor stays open over rows being updated.
    ids = list(selected_frames(selection).values_list("pk", flat=True))
    for at in range(0, len(ids), _CHUNK):
        chunk = ids[at : at + _CHUNK]
        for row in RawFrame.objects.filter(pk__in=chunk).order_by("received_at", "pk"):
            frame = _decoded(bytes(row.raw), max_length)
            mn = frame.mn if frame is not None else None
            if mn and mn not in points:
                points[mn] = point_lookup(mn)
            auth = points.get(mn) if mn else None
            yield _replay_one(row, frame, auth, dry_run=dry_run)


def _decoded(raw: bytes, max_length: int) -> DecodedFrame | None:
    # Every CRC variant, as the listener: whether the point may use it is judged per point.
    frames = decode(raw, crc=CrcMode.ANY, max_length=max_length)
    return frames[0] if frames else None


def _replay_one(
    row: RawFrame, frame: DecodedFrame | None, auth: PointAuth | None, *, dry_run: bool
) -> ReplayOutcome:
    was = row.reason or row.verdict
    if frame is None:  # not a frame at all (never stored by the listener, but rows are rows)
        return ReplayOutcome(row.pk, row.mn, row.cn, was, RejectReason.BAD_HEADER, 0, 0)
    record = frame_record(frame, auth, peer=row.peer, received_at=row.received_at)
    rows = len(record.readings) + len(record.statuses) + len(record.site_infos)
    if not record.is_accepted:
        reason = str(record.frame.reason)
        return ReplayOutcome(row.pk, row.mn, row.cn, was, reason, rows, 0)
    stored = 0 if dry_run else _store(row, record)
    return ReplayOutcome(row.pk, record.frame.mn, record.frame.cn, was, "", rows, stored)


@transaction.atomic
def _store(row: RawFrame, record: IngestRecord) -> int:
    """The record's rows, the point's newest data time, and the frame row now accepted."""
    frame = record.frame
    assert frame.point_id is not None
    stored = (
        store_readings(record.readings)
        + store_status(record.statuses)
        + store_site_info(record.site_infos)
    )
    if record.edition is not None:
        record_protocol_edition(point_id=frame.point_id, edition=record.edition)
    _note_data_time(frame.point_id, record)
    if row.verdict != FrameVerdict.ACCEPTED:
        detail = f"replayed {clock.now():%Y-%m-%d %H:%M:%S%z}, was {row.reason}"
        if row.detail:
            detail += f": {row.detail}"
        RawFrame.objects.filter(pk=row.pk).update(
            verdict=FrameVerdict.ACCEPTED,
            reason="",
            point_id=frame.point_id,
            crc_variant=frame.crc_variant,
            detail=detail[:DETAIL_MAX_LENGTH],
        )
    return stored


def _note_data_time(point_id: int, record: IngestRecord) -> None:
    """Move the point's last_data_time forward (never back). Its status and last_seen_at are
    left alone: an old frame replayed now says nothing about whether the device is online."""
    times = [row.data_time for row in record.readings]
    if not times:
        return
    newest = max(times)
    MonitoringPoint.objects.filter(pk=point_id).update(
        last_data_time=Greatest(Coalesce(F("last_data_time"), Value(newest)), Value(newest))
    )
