"""The ingestion service: TCP listener + MQTT subscriber → one batching writer, plus metrics.

    async with IngestService(IngestConfig(...)) as service:
        ...  # service.port, service.metrics_port
        await service.wait_closed()

`civicloop ingest` runs one; the tests run one in-process against the test database.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType

from django.db import connection

from civicloop.ingest.backfill import BackfillSettings, BackfillTracker
from civicloop.ingest.database import DATABASE_ERRORS, AsyncPostgres, DatabaseThread
from civicloop.ingest.listener import ListenerSettings, TcpListener
from civicloop.ingest.metrics import IngestMetrics, MetricsServer
from civicloop.ingest.mqtt import MqttSettings, MqttSubscriber
from civicloop.ingest.points import PointDirectory
from civicloop.ingest.sink import BatchingWriter, RecordSink, StoreBatch, WriterSettings
from civicloop.monitoring.services import DEFAULT_OFFLINE_AFTER, mark_silent_points_offline
from civicloop.monitoring.writer import store_batch

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestConfig:
    listener: ListenerSettings = field(default_factory=ListenerSettings)
    writer: WriterSettings = field(default_factory=WriterSettings)
    backfill: BackfillSettings = field(default_factory=BackfillSettings)
    mqtt: MqttSettings | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 9213  # None: no metrics endpoint; 0: any free port
    points_refresh: float = 60.0  # seconds between reloads of the monitoring points
    drain_timeout: float = 30.0  # seconds to commit what is queued when stopping
    # A point with no accepted frame for `offline_after` is marked offline; the sweep runs
    # every `offline_check` seconds (0: never, e.g. when `civicloop mark_points_offline
    # --loop` does it).
    offline_after: timedelta = DEFAULT_OFFLINE_AFTER
    offline_check: float = 60.0


class IngestService:
    def __init__(
        self,
        config: IngestConfig,
        *,
        sink: RecordSink | None = None,
        store: StoreBatch = store_batch,
    ) -> None:
        self.config = config
        self.metrics = IngestMetrics()
        self._write_db = DatabaseThread("ingest-writer")
        # SQLite serialises writers anyway (and its shared-cache test database would report
        # "table is locked" to a concurrent reader): one thread does everything there.
        sqlite = connection.vendor == "sqlite"
        self._read_db = self._write_db if sqlite else DatabaseThread("ingest-lookup")
        self.directory = PointDirectory(self._read_db, refresh_interval=config.points_refresh)
        # PostgreSQL with the standard store: batches are written from the event loop itself.
        postgres = (
            [AsyncPostgres.from_django() for _ in range(config.writer.connections)]
            if sink is None and connection.vendor == "postgresql" and store is store_batch
            else []
        )
        self.sink = sink or BatchingWriter(
            database=self._write_db,
            metrics=self.metrics,
            settings=config.writer,
            store=store,
            postgres=postgres,
        )
        self.backfill = BackfillTracker(config.backfill, self.metrics)
        self.listener = TcpListener(
            config.listener,
            sink=self.sink,
            directory=self.directory,
            metrics=self.metrics,
            backfill=self.backfill,
        )
        self.mqtt = (
            MqttSubscriber(
                config.mqtt, sink=self.sink, directory=self.directory, metrics=self.metrics
            )
            if config.mqtt is not None
            else None
        )
        self._metrics_server = (
            MetricsServer(self.metrics, host=config.metrics_host, port=config.metrics_port)
            if config.metrics_port is not None
            else None
        )
        self._offline_task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    @property
    def database(self) -> DatabaseThread:
        """The writer's database thread: queries run here see exactly what was committed."""
        return self._write_db

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def metrics_port(self) -> int | None:
        return self._metrics_server.port if self._metrics_server is not None else None

    async def start(self) -> None:
        await self.directory.start()
        await self.sink.start()
        if self._metrics_server is not None:
            await self._metrics_server.start()
        await self.listener.start()
        if self.mqtt is not None:
            await self.mqtt.start()
        if self.config.offline_check > 0:
            self._offline_task = asyncio.create_task(self._sweep_offline(), name="ingest-offline")
        logger.info(
            "ingest: HJ 212 on %s:%d, metrics on %s, MQTT %s",
            self.config.listener.host,
            self.port,
            self.metrics_port if self.metrics_port is not None else "off",
            self.config.mqtt.topic if self.config.mqtt is not None else "off",
        )

    async def stop(self) -> None:
        """Stop reading, commit and acknowledge what was read, then close everything."""
        if self._closed.is_set():
            return
        if self._offline_task is not None:
            self._offline_task.cancel()
            await asyncio.gather(self._offline_task, return_exceptions=True)
        if self.mqtt is not None:
            await self.mqtt.stop()
        await self.listener.stop_reading()
        try:
            async with asyncio.timeout(self.config.drain_timeout):
                await self.sink.stop()
        except TimeoutError:
            logger.warning(
                "queue not drained in %.0f s; unacknowledged data dropped",
                self.config.drain_timeout,
            )
            await self.sink.abort()
        await self.listener.close()
        await self.directory.stop()
        if self._metrics_server is not None:
            await self._metrics_server.stop()
        await self._write_db.close()
        if self._read_db is not self._write_db:
            await self._read_db.close()
        self._closed.set()

    async def _sweep_offline(self) -> None:
        """Mark silent points offline every `offline_check` seconds, off the event loop.

        The UPDATE runs on the look-up thread (on SQLite the writer's, between batches); it is
        idempotent, so every listener of a scaled-out deployment may run it.
        """
        sweep = functools.partial(mark_silent_points_offline, silent_for=self.config.offline_after)
        while True:
            try:
                count = await self._read_db.run(sweep)
            except DATABASE_ERRORS as error:  # an outage must not stop the sweeps
                logger.warning("could not mark silent points offline: %s", error)
            else:
                if count:
                    logger.info("%d silent monitoring points marked offline", count)
            await asyncio.sleep(self.config.offline_check)

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def __aenter__(self) -> IngestService:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
