"""The HJ 212 TCP listener: one task per device connection, feeding a `RecordSink`.

Per connection: its own `StreamDecoder` (buffer capped by the frame length cap), an idle
timeout, a cap on unacknowledged records (a device that floods stops being read, the others
do not notice), and caps on garbage and rejected frames (scanners are disconnected). A frame
is acknowledged (9014/9013) only when the sink reports it durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from civicloop.ingest.backfill import BackfillTracker, HistoryWindow, plan_backfill
from civicloop.ingest.hj212 import (
    MAX_LENGTH,
    Cn,
    CrcMode,
    DecodedFrame,
    Edition,
    Message,
    StreamDecoder,
    answer_for,
    build_set_device_time,
)
from civicloop.ingest.metrics import IngestMetrics
from civicloop.ingest.points import PointDirectory
from civicloop.ingest.records import READING_KINDS, IngestRecord, frame_record
from civicloop.ingest.sink import Commit, Outcome, RecordSink, SinkClosed
from civicloop.lib import clock
from civicloop.monitoring.writer import PointAuth

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenerSettings:
    host: str = "0.0.0.0"  # devices connect from the whole province
    port: int = 9212
    reuse_port: bool = False  # several processes on one port (the kernel balances)
    max_frame_length: int = MAX_LENGTH  # bytes of data segment; longer headers are garbage
    read_size: int = 64 * 1024
    idle_timeout: float = 600.0  # close a connection silent for this long
    flush_delay: float = 0.5  # silence after which a frame without CRLF is taken as complete
    max_inflight: int = 64  # unacknowledged records per connection before it is not read
    max_rejects: int = 20  # consecutive rejected frames before the connection is closed
    quarantine_limit: int = 50  # rejected frames stored per connection; later ones counted
    max_garbage: int = 64 * 1024  # bytes of garbage without an accepted frame before closing


@dataclass(frozen=True, slots=True)
class _AfterCommit:
    """What to send once a record is durable: its answer, then follow-up requests."""

    answer: bytes | None
    cn: str
    arrived: float  # monotonic time the frame was complete
    message: Message | None = None
    backfill: tuple[HistoryWindow, ...] = ()
    edition: str | None = None  # newly detected: remember it once committed
    point_id: int | None = None
    data_time: datetime | None = None  # newest reading in the record


class Connection:
    def __init__(
        self,
        listener: TcpListener,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.listener = listener
        self.settings = listener.settings
        self.metrics = listener.metrics
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")
        # Accept every CRC variant here; whether this MN may use it is decided per point.
        self.decoder = StreamDecoder(crc=CrcMode.ANY, max_length=self.settings.max_frame_length)
        self._inflight = asyncio.Semaphore(self.settings.max_inflight)
        self._pending: dict[bytes, Commit] = {}  # raw frame → its commit, while in flight
        self._garbage_seen = 0
        self._garbage_since_good = 0
        self._rejects_in_row = 0
        self._quarantined = 0
        self._data_mns: set[str] = set()  # MNs whose first data frame was checked for a gap
        self.close_reason = "eof"

    # ---- reading ----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._read_loop()
        except (ConnectionError, OSError):
            self.close_reason = "reset"
        except SinkClosed:
            self.close_reason = "shutdown"
        except asyncio.CancelledError:
            self.close_reason = "shutdown"
            raise
        finally:
            self.metrics.connections_closed.inc(reason=self.close_reason)

    async def _read_loop(self) -> None:
        last_bytes = time.monotonic()
        while not self.writer.is_closing():
            buffered = self.decoder.deframer.buffered > 0
            timeout = self.settings.flush_delay if buffered else self.settings.idle_timeout
            try:
                async with asyncio.timeout(timeout):
                    chunk = await self.reader.read(self.settings.read_size)
            except TimeoutError:
                if time.monotonic() - last_bytes >= self.settings.idle_timeout:
                    self.close_reason = "idle"
                    return
                await self._handle(self.decoder.idle())
                continue
            if not chunk:
                await self._handle(self.decoder.close())
                return
            last_bytes = time.monotonic()
            await self._handle(self.decoder.feed(chunk))

    async def _handle(self, frames: list[DecodedFrame]) -> None:
        self._count_garbage()
        for frame in frames:
            await self._ingest(frame)
        if self._garbage_since_good > self.settings.max_garbage:
            self._close("garbage")

    def _count_garbage(self) -> None:
        total = self.decoder.deframer.garbage_bytes
        if total > self._garbage_seen:
            self.metrics.garbage_bytes.inc(total - self._garbage_seen)
            self._garbage_since_good += total - self._garbage_seen
            self._garbage_seen = total

    # ---- one frame --------------------------------------------------------------------

    async def _ingest(self, frame: DecodedFrame) -> None:
        arrived = time.monotonic()
        if self._coalesced(frame, arrived):
            return
        auth = await self.listener.directory.get(frame.mn) if frame.mn else None
        record = frame_record(frame, auth, peer=self.peer, received_at=clock.now())
        if not record.is_accepted:
            await self._reject(record)
            return
        assert auth is not None and frame.message is not None
        self._rejects_in_row = 0
        self._garbage_since_good = 0
        self.metrics.frames.inc(source="tcp", verdict="accepted")
        self.metrics.readings_received.inc(len(record.readings))
        message = frame.message
        if message.is_answer:
            self.listener.backfill.on_answer(message)
        after = _AfterCommit(
            answer_for(frame),
            message.cn,
            arrived,
            message,
            self._plan_backfill(message, auth, record),
            record.edition,
            auth.point_id,
            max((row.data_time for row in record.readings), default=None),
        )
        await self._submit(record, after)

    async def _reject(self, record: IngestRecord) -> None:
        reason = record.frame.reason
        self.metrics.frames.inc(source="tcp", verdict="rejected")
        self.metrics.rejects.inc(source="tcp", reason=reason)
        self._rejects_in_row += 1
        if self._quarantined < self.settings.quarantine_limit:
            self._quarantined += 1
            await self._submit(record, None)
        else:
            self.metrics.quarantine_skipped.inc()
        if self._rejects_in_row >= self.settings.max_rejects:
            self._close("rejects")

    def _plan_backfill(
        self, message: Message, auth: PointAuth, record: IngestRecord
    ) -> tuple[HistoryWindow, ...]:
        """On a connection's first data frame of a point: the history to ask for, if any."""
        settings = self.listener.backfill.settings
        if not settings.enabled or message.cn not in READING_KINDS or not record.readings:
            return ()
        if auth.mn in self._data_mns or message.data_time is None:
            return ()
        self._data_mns.add(auth.mn)
        last = self.listener.directory.last_data_time(auth.point_id)
        return tuple(plan_backfill(last, message.data_time, settings))

    def _coalesced(self, frame: DecodedFrame, arrived: float) -> bool:
        """A retransmission of a frame still waiting for its commit is not queued again.

        Devices retransmit after their timeout (10 s); under overload that would multiply
        the load. The copy is answered when the original commits.
        """
        commit = self._pending.get(frame.frame.raw)
        if commit is None or frame.message is None:
            return False
        self.metrics.retransmits_coalesced.inc()
        after = _AfterCommit(answer_for(frame), frame.message.cn, arrived)
        commit.add_done_callback(functools.partial(self._committed, after))
        return True

    async def _submit(self, record: IngestRecord, after: _AfterCommit | None) -> None:
        await self._inflight.acquire()
        try:
            commit = await self.listener.sink.submit(record)
        except BaseException:
            self._inflight.release()
            raise
        raw = record.frame.raw
        commit.add_done_callback(functools.partial(self._settled, raw))
        if after is not None:
            self._pending[raw] = commit
            commit.add_done_callback(functools.partial(self._committed, after))

    def _settled(self, raw: bytes, commit: Commit) -> None:
        self._inflight.release()
        if self._pending.get(raw) is commit:
            del self._pending[raw]

    # ---- after commit -----------------------------------------------------------------

    def _committed(self, after: _AfterCommit, commit: Commit) -> None:
        if commit.cancelled() or commit.exception() is not None:
            return
        if commit.result() is not Outcome.STORED:
            return
        directory = self.listener.directory
        if after.edition is not None and after.message is not None and after.message.mn:
            directory.remember_edition(after.message.mn, after.edition)
        if after.point_id is not None and after.data_time is not None:
            directory.note_data_time(after.point_id, after.data_time)
        if self.writer.is_closing():
            return
        if after.answer is not None:
            self.writer.write(after.answer)
            self.metrics.acks.inc(cn=_answer_cn(after.cn))
            self.metrics.ack_seconds.observe(time.monotonic() - after.arrived)
        if after.message is not None and after.message.cn == Cn.TIME_CALIBRATION_REQUEST:
            self._send_time(after.message)
        if after.backfill and after.message is not None:
            self.listener.spawn(self._backfill(after.message, after.backfill))

    def _send_time(self, message: Message) -> None:
        """HJ 212 §7.3: after answering a 1013 with 9013, set the device clock (1012)."""
        if not (message.mn and message.pw):
            return
        self.writer.write(
            build_set_device_time(
                st=message.st,
                pw=message.pw,
                mn=message.mn,
                qn=self.listener.backfill.next_qn(),
                system_time=clock.now(),
                edition=_sendable(message.edition),
            )
        )

    async def _backfill(self, message: Message, windows: tuple[HistoryWindow, ...]) -> None:
        tracker = self.listener.backfill
        for window in windows:
            if self.writer.is_closing() or not (message.mn and message.pw is not None):
                return
            qn, frame = tracker.request(
                window, st=message.st, pw=message.pw, mn=message.mn, edition=message.edition
            )
            logger.info(
                "asking %s for %s data %s … %s", message.mn, window.cn, window.begin, window.end
            )
            self.writer.write(frame)
            self.metrics.backfill_requests.inc(cn=window.cn)
            await tracker.wait_for_answer(qn)

    def _close(self, reason: str) -> None:
        if not self.writer.is_closing():
            self.close_reason = reason
            self.writer.close()


async def _closed(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _answer_cn(cn: str) -> str:
    return Cn.NOTIFICATION_ANSWER if cn == Cn.TIME_CALIBRATION_REQUEST else Cn.DATA_ANSWER


def _sendable(edition: Edition) -> Edition:
    return edition if edition is not Edition.UNKNOWN else Edition.HJ212_2017


class TcpListener:
    def __init__(
        self,
        settings: ListenerSettings,
        *,
        sink: RecordSink,
        directory: PointDirectory,
        metrics: IngestMetrics,
        backfill: BackfillTracker,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.directory = directory
        self.metrics = metrics
        self.backfill = backfill
        self.port = settings.port
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(
            self._accept,
            self.settings.host,
            self.settings.port,
            reuse_port=self.settings.reuse_port or None,
            backlog=4096,
            limit=self.settings.read_size,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a follow-up (back-fill) in the background; cancelled when the listener stops."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop_reading(self) -> None:
        """Stop accepting and reading; connections stay open so acks can still go out."""
        if self._server is not None:
            self._server.close()
        for task in [*self._connections, *self._tasks]:
            task.cancel()
        await asyncio.gather(*self._connections, *self._tasks, return_exceptions=True)

    async def close(self, timeout: float = 5.0) -> None:
        await self.stop_reading()
        writers = [connection.writer for connection in self._connections.values()]
        for writer in writers:
            writer.close()  # flushes the last answers, then closes
        if writers:
            waits = [asyncio.create_task(_closed(writer)) for writer in writers]
            await asyncio.wait(waits, timeout=timeout)
        for writer in writers:
            writer.transport.abort()  # peers that do not read their answers
        self._connections.clear()
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(self, reader, writer)
        # A task of our own: cancelling the one asyncio.start_server made gets logged as an error.
        task = asyncio.create_task(connection.run())
        self._connections[task] = connection
        self.metrics.connections.inc()
        self.metrics.connections_open.inc()
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        await asyncio.wait({task})
        self.metrics.connections_open.dec()
        if not task.cancelled() and task.exception() is not None:
            logger.error("connection %s failed", connection.peer, exc_info=task.exception())
        if self._server is not None and self._server.is_serving():
            # When stopping, close() closes the writer after the last acks went out.
            self._connections.pop(task, None)
            writer.close()
