"""Where listeners hand their records: the `RecordSink` interface and its in-process writer.

    commit = await sink.submit(record)   # waits while the queue is full (backpressure)
    outcome = await commit                # resolves once the record is durable

A listener acknowledges a device only after `commit` resolves with `Outcome.STORED`. The
in-process `BatchingWriter` resolves it after the database transaction that contains the
record has committed. A broker-backed sink (NATS JetStream, RabbitMQ with publisher
confirms) would resolve it once the broker has persisted the message, and a separate consumer
would call `store_records` below; neither the codec nor the listeners change.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from civicloop.ingest.database import (
    DATABASE_ERRORS,
    TRANSIENT_ERRORS,
    AsyncPostgres,
    DatabaseThread,
)
from civicloop.ingest.metrics import IngestMetrics
from civicloop.ingest.records import IngestRecord, quarantined, to_batch
from civicloop.monitoring.writer import BatchResult, WriteBatch, store_batch, store_batch_async

logger = logging.getLogger(__name__)

StoreBatch = Callable[[WriteBatch], BatchResult]


class Outcome(enum.Enum):
    STORED = "stored"  # the record is durable as sent: acknowledge the device
    QUARANTINED = "quarantined"  # the database refused its rows; its raw frame was kept


Commit = asyncio.Future[Outcome]


class SinkClosed(RuntimeError):
    """The sink is shutting down and takes no more records."""


class RecordSink(abc.ABC):
    """What a listener needs from whatever stores its records."""

    @abc.abstractmethod
    async def submit(self, record: IngestRecord) -> Commit:
        """Take a record, waiting for room; the future resolves when it is durable."""

    def submit_nowait(self, record: IngestRecord) -> Commit | None:
        """Take a record if there is room now (no waiting); None: call `submit` instead.

        The listener's fast path. Raises `SinkClosed` like `submit`."""
        return None

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop taking records, finish (commit) those taken, release resources."""

    @abc.abstractmethod
    async def abort(self) -> None:
        """Stop now; records not yet durable are dropped unacknowledged."""


def store_records(records: Sequence[IngestRecord], store: StoreBatch = store_batch) -> BatchResult:
    """Store records in one transaction: what a broker consumer calls, too."""
    return store(to_batch(records))


@dataclass(slots=True)
class _Pending:
    record: IngestRecord
    commit: Commit


@dataclass(frozen=True, slots=True, kw_only=True)
class WriterSettings:
    queue_size: int = 5_000  # records
    batch_rows: int = 5_000  # rows (frames + readings + …) per transaction
    batch_delay: float = 0.01  # seconds to wait for more records before committing
    # PostgreSQL connections writing batches side by side: one batch is prepared and sent
    # while the previous one waits for its commit (the WAL flush).
    connections: int = 2
    retry_delay: float = 0.2  # first pause after a database error; doubles up to 5 s
    max_retry_delay: float = 5.0


class BatchingWriter(RecordSink):
    """A bounded queue and writer tasks that commit its records in batches.

    On PostgreSQL each writer task owns one connection (`postgres`): while one batch waits
    for its commit, the next is gathered and written on another connection. Elsewhere one
    task commits through `database`'s thread. Batches are gathered one at a time, in queue
    order; a device's acknowledgements may then come back in another order than its frames,
    which HJ 212 allows (each 9014 names its QN).

    A lost database connection is retried forever with backoff (nothing is acknowledged
    meanwhile, and the queue bound pushes back on the listeners). A batch the database
    refuses for its content is split so that one bad record cannot block the others.
    """

    def __init__(
        self,
        *,
        database: DatabaseThread,
        metrics: IngestMetrics,
        settings: WriterSettings | None = None,
        store: StoreBatch = store_batch,
        postgres: Sequence[AsyncPostgres] = (),
    ) -> None:
        """`postgres`: write through these event-loop connections, one writer task each,
        instead of `database`'s thread (the service passes `settings.connections` of them on
        PostgreSQL when `store` is the standard one)."""
        self.settings = settings or WriterSettings()
        self.database = database
        self.postgres = tuple(postgres)
        self.metrics = metrics
        self.store = store
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(self.settings.queue_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._gathering = asyncio.Lock()  # one task gathers a batch at a time
        self._closing = False
        metrics.queue_capacity.set(self.settings.queue_size)
        metrics.queue_depth.bind(self._queue.qsize)

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def submit(self, record: IngestRecord) -> Commit:
        if self._closing:
            raise SinkClosed("the writer is stopping")
        commit: Commit = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(record, commit))
        return commit

    def submit_nowait(self, record: IngestRecord) -> Commit | None:
        if self._closing:
            raise SinkClosed("the writer is stopping")
        if self._queue.full():
            return None
        commit: Commit = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(record, commit))
        return commit

    async def start(self) -> None:
        for postgres in self.postgres:
            try:
                await postgres.connect()
            except TRANSIENT_ERRORS as error:
                logger.warning("database unavailable at start (%s); will retry", error)
        lanes: Sequence[AsyncPostgres | None] = self.postgres or (None,)
        self._tasks = [
            asyncio.create_task(self._run(postgres), name=f"ingest-writer-{index}")
            for index, postgres in enumerate(lanes)
        ]

    async def stop(self) -> None:
        """Commit everything queued, then stop."""
        self._closing = True
        await self._queue.join()
        await self._cancel_tasks()
        for postgres in self.postgres:
            await postgres.close()

    async def abort(self) -> None:
        """Stop now: queued records are dropped unacknowledged (devices will retransmit)."""
        self._closing = True
        await self._cancel_tasks()
        while not self._queue.empty():
            self._queue.get_nowait().commit.cancel()
            self._queue.task_done()
        for postgres in self.postgres:
            await postgres.close()

    async def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- the writer task -----------------------------------------------------------------

    async def _run(self, postgres: AsyncPostgres | None) -> None:
        """One writer task: gather a batch (while no other task does), commit it, repeat."""
        while True:
            async with self._gathering:
                batch = await self._next_batch()
            try:
                await self._commit(batch, postgres)
            except Exception as error:  # a bug must not stop the writer: log, never ack
                logger.exception("writer failed on a batch of %d records", len(batch))
                for pending in batch:
                    if not pending.commit.done():
                        pending.commit.set_exception(error)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _next_batch(self) -> list[_Pending]:
        first = await self._queue.get()
        batch, rows = [first], first.record.size
        deadline = time.monotonic() + self.settings.batch_delay
        while rows < self.settings.batch_rows:
            if self._queue.empty():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        item = await self._queue.get()
                except TimeoutError:
                    break
            else:
                item = self._queue.get_nowait()
            batch.append(item)
            rows += item.record.size
        return batch

    async def _commit(self, batch: list[_Pending], postgres: AsyncPostgres | None) -> None:
        records = [pending.record for pending in batch]
        try:
            await self._store_with_retries(records, postgres)
        except DATABASE_ERRORS as error:
            self.metrics.db_errors.inc(kind="data")
            if len(batch) > 1:
                logger.warning("batch of %d refused (%s); storing one by one", len(batch), error)
                for pending in batch:
                    await self._commit([pending], postgres)
            else:
                await self._quarantine(batch[0], error, postgres)
            return
        self._resolve(batch, Outcome.STORED)

    async def _quarantine(
        self, pending: _Pending, error: BaseException, postgres: AsyncPostgres | None
    ) -> None:
        """Keep the raw frame of a record whose rows the database refused; never ack it."""
        logger.warning("record from %s refused: %s", pending.record.frame.peer, error)
        self.metrics.rejects.inc(source="writer", reason="malformed")
        try:
            await self._store_with_retries(
                [quarantined(pending.record, detail=str(error)[:200])], postgres
            )
        except DATABASE_ERRORS as second:
            logger.error("raw frame from %s refused too: %s", pending.record.frame.peer, second)
            if not pending.commit.done():
                pending.commit.set_exception(second)
            return
        self._resolve([pending], Outcome.QUARANTINED)

    async def _store_with_retries(
        self, records: list[IngestRecord], postgres: AsyncPostgres | None
    ) -> None:
        """Store, retrying forever while the database is unreachable; data errors propagate."""
        delay = self.settings.retry_delay
        while True:
            try:
                await self._store(records, postgres)
                return
            except TRANSIENT_ERRORS as error:
                self.metrics.db_errors.inc(kind="connection")
                logger.warning("database unavailable (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.max_retry_delay)

    async def _store(self, records: list[IngestRecord], postgres: AsyncPostgres | None) -> None:
        started = time.perf_counter()
        if postgres is not None:
            batch = to_batch(records)
            result = await postgres.run(lambda conn: store_batch_async(conn, batch))
        else:
            result = await self.database.run(store_records, records, self.store)
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_records.observe(len(records))
        self.metrics.records_committed.inc(len(records))
        self.metrics.readings_written.inc(result.readings)

    def _resolve(self, batch: list[_Pending], outcome: Outcome) -> None:
        for pending in batch:
            if not pending.commit.done():
                pending.commit.set_result(outcome)
