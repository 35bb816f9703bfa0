"""Who may send: an in-memory directory of monitoring points, refreshed from the database.

Every frame needs its MN checked, so the listener must not ask the database each time. The
directory loads all points at start and reloads them periodically (password changes, points
disabled or added); an MN it does not know is looked up once and then remembered as unknown
for a while, so an internet scanner cycling through MNs costs one query per MN per minute.

It also keeps each point's newest committed data time (`last_data_time`: loaded, then moved
forward by the listener after each commit), which back-fill compares a reconnecting device's
first frame with, without a query per connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from civicloop.ingest.database import DATABASE_ERRORS, DatabaseThread
from civicloop.monitoring.models import MonitoringPoint
from civicloop.monitoring.writer import PointAuth

logger = logging.getLogger(__name__)

_MAX_UNKNOWN = 10_000
_FIELDS = ("pk", "mn", "password", "crc_variant", "status", "protocol_edition", "last_data_time")
PointRow = tuple[PointAuth, datetime | None]


def load_points(mn: str | None = None) -> list[PointRow]:
    """Every point (or the one with this MN): credentials and newest data time."""
    points = MonitoringPoint.objects.all() if mn is None else MonitoringPoint.objects.filter(mn=mn)
    rows = points.values_list(*_FIELDS).iterator(chunk_size=5000)
    return [(PointAuth(*row[:-1]), row[-1]) for row in rows]


class PointDirectory:
    def __init__(
        self,
        database: DatabaseThread,
        *,
        refresh_interval: float = 60.0,
        unknown_ttl: float = 60.0,
    ) -> None:
        self.database = database
        self.refresh_interval = refresh_interval
        self.unknown_ttl = unknown_ttl
        self._points: dict[str, PointAuth] = {}
        self._last_data: dict[int, datetime] = {}
        self._unknown: dict[str, float] = {}  # MN → monotonic time it was found unknown
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._points)

    async def start(self) -> None:
        await self.reload()
        self._task = asyncio.create_task(self._refresh_forever(), name="ingest-points")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def reload(self) -> None:
        rows = await self.database.run(load_points)
        self._points = {}
        for auth, last in rows:
            self._remember(auth, last)
        self._unknown.clear()
        logger.info("%d monitoring points loaded", len(self._points))

    def _remember(self, auth: PointAuth, last: datetime | None) -> None:
        self._points[auth.mn] = auth
        if last is not None:
            self.note_data_time(auth.point_id, last)

    def cached(self, mn: str) -> tuple[bool, PointAuth | None]:
        """`(True, auth)` when the answer is known without a query (`auth` None: an MN found
        unknown less than `unknown_ttl` ago); `(False, None)` when `get` must ask."""
        auth = self._points.get(mn)
        if auth is not None:
            return True, auth
        checked = self._unknown.get(mn)
        if checked is not None and time.monotonic() - checked < self.unknown_ttl:
            return True, None
        return False, None

    async def get(self, mn: str) -> PointAuth | None:
        auth = self._points.get(mn)
        if auth is not None:
            return auth
        checked = self._unknown.get(mn)
        if checked is not None and time.monotonic() - checked < self.unknown_ttl:
            return None
        rows = await self.database.run(load_points, mn)
        if not rows:
            if len(self._unknown) >= _MAX_UNKNOWN:  # random MNs must not grow memory forever
                self._unknown.clear()
            self._unknown[mn] = time.monotonic()
            return None
        self._remember(*rows[0])
        return rows[0][0]

    def remember_edition(self, mn: str, edition: str) -> None:
        """The writer recorded a new edition: stop sending it with every batch."""
        auth = self._points.get(mn)
        if auth is not None and auth.protocol_edition != edition:
            self._points[mn] = PointAuth(
                auth.point_id, auth.mn, auth.password, auth.crc_variant, auth.status, edition
            )

    def last_data_time(self, point_id: int) -> datetime | None:
        return self._last_data.get(point_id)

    def note_data_time(self, point_id: int, data_time: datetime) -> None:
        """Data up to `data_time` is committed for the point (only ever moves forward)."""
        known = self._last_data.get(point_id)
        if known is None or data_time > known:
            self._last_data[point_id] = data_time

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval)
            try:
                await self.reload()
            except DATABASE_ERRORS as error:  # an outage must not kill the listener
                logger.warning("could not reload monitoring points: %s", error)
