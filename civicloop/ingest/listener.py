"""The HJ 212 TCP listener: one `asyncio.Protocol` per device connection, feeding a `RecordSink`.

Per connection: its own `StreamDecoder` (buffer capped by the frame length cap), an idle
timeout, a cap on unacknowledged records (a device that floods stops being read, the others
do not notice), and caps on garbage and rejected frames (scanners are disconnected). A frame
is acknowledged (9014/9013) only when the sink reports it durable.

A protocol rather than a stream reader and a task per connection: the common frame (a known
MN, room in the writer's queue) is decoded, judged and queued synchronously in
`data_received`, with no task switch, no per-read timeout and no semaphore. Only the rare
steps that must wait (an MN not in the directory yet, a full writer queue) go through a task,
with the connection's reading paused so that its frames stay in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

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
    idle_timeout: float = 600.0  # close a connection silent for this long
    flush_delay: float = 0.5  # silence after which a frame without CRLF is taken as complete
    max_inflight: int = 64  # unacknowledged records per connection before it is not read
    max_rejects: int = 20  # consecutive rejected frames before the connection is closed
    quarantine_limit: int = 50  # rejected frames stored per connection; later ones counted
    max_garbage: int = 64 * 1024  # bytes of garbage without an accepted frame before closing


@dataclass(slots=True)  # not frozen: one per frame, and a frozen __init__ costs twice as much
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


class Connection(asyncio.Protocol):
    """One device connection. Frames are handled in arrival order; reading pauses while a
    frame waits (directory look-up, full writer queue, in-flight cap) and resumes after."""

    def __init__(self, listener: TcpListener) -> None:
        self.listener = listener
        self.settings = listener.settings
        self.metrics = listener.metrics
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        # Accept every CRC variant here; whether this MN may use it is decided per point.
        self.decoder = StreamDecoder(crc=CrcMode.ANY, max_length=self.settings.max_frame_length)
        self._frames: deque[DecodedFrame] = deque()  # decoded, not yet handled
        self._inflight = 0
        self._held: tuple[IngestRecord, _AfterCommit | None] | None = None  # at the cap
        self._pending: dict[bytes, Commit] = {}  # raw frame → its commit, while in flight
        self._garbage_seen = 0
        self._garbage_since_good = 0
        self._rejects_in_row = 0
        self._quarantined = 0
        self._data_mns: set[str] = set()  # MNs whose first data frame was checked for a gap
        self.close_reason = "eof"
        self._counted = False  # connections_closed counted (once)
        self._waiting: asyncio.Task[None] | None = None  # a frame's step that must wait
        self._paused = False
        self._eof = False
        self._stopped = False  # the listener stopped reading: acks only
        self._last_bytes = time.monotonic()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._flush_timer: asyncio.TimerHandle | None = None
        self.closed: asyncio.Future[None] = self._loop.create_future()

    # ---- transport events -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's, only alike.
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self.listener.opened(self)
        # One timer per connection, moved lazily: it re-arms itself while bytes keep coming.
        self._idle_timer = self._loop.call_later(self.settings.idle_timeout, self._idle_check)

    def data_received(self, data: bytes) -> None:
        self._last_bytes = time.monotonic()
        self._take(self.decoder.feed(data))
        if self.decoder.deframer.buffered > 0:
            # A frame may lack its CRLF: take it as complete after `flush_delay` of silence.
            if self._flush_timer is not None:
                self._flush_timer.cancel()
            self._flush_timer = self._loop.call_later(self.settings.flush_delay, self._flush)
        elif self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None

    def eof_received(self) -> bool:
        self._eof = True
        self._take(self.decoder.close())
        return True  # the transport stays open until the frames read are handled

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.close_reason == "eof":
            self.close_reason = "reset"
        self._count_closed()
        for timer in (self._idle_timer, self._flush_timer):
            if timer is not None:
                timer.cancel()
        if self._waiting is not None:
            self._waiting.cancel()
        self._frames.clear()
        self.listener.lost(self)
        if not self.closed.done():
            self.closed.set_result(None)

    # ---- timers -----------------------------------------------------------------------

    def _idle_check(self) -> None:
        silent = time.monotonic() - self._last_bytes
        if silent >= self.settings.idle_timeout and not self._paused and not self._stopped:
            self._close("idle")
            return
        wait = self.settings.idle_timeout - silent if not self._paused else 1.0
        self._idle_timer = self._loop.call_later(max(wait, 0.01), self._idle_check)

    def _flush(self) -> None:
        self._flush_timer = None
        if not self._stopped and self.decoder.deframer.buffered > 0:
            self._take(self.decoder.idle())

    # ---- frames in order --------------------------------------------------------------

    def _take(self, frames: list[DecodedFrame]) -> None:
        self._count_garbage()
        self._frames.extend(frames)
        self._pump()

    def _pump(self) -> None:
        """Handle frames until one has to wait; pause reading meanwhile."""
        try:
            while self._frames and not self._blocked():
                self._ingest(self._frames.popleft())
        except SinkClosed:
            self._close("shutdown")
        except Exception:
            logger.exception("connection %s failed", self.peer)
            self._abort()
            return
        if self._frames or self._blocked():
            self._pause()
            return
        if self._garbage_since_good > self.settings.max_garbage:
            self._close("garbage")
        elif self._eof:
            self._close(self.close_reason)
        else:
            self._resume()

    def _blocked(self) -> bool:
        return (
            self._waiting is not None
            or self._held is not None
            or self._stopped
            or self.transport is None
            or self.transport.is_closing()
        )

    def _pause(self) -> None:
        if not self._paused and self.transport is not None and not self.transport.is_closing():
            self._paused = True
            if not self._eof:
                self.transport.pause_reading()

    def _resume(self) -> None:
        if self._paused and self.transport is not None and not self.transport.is_closing():
            self._paused = False
            if not self._eof and not self._stopped:
                self.transport.resume_reading()

    def _wait_then(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a step that must wait; the next frames are handled after it."""
        self._pause()
        self._waiting = self._loop.create_task(coroutine)
        self._waiting.add_done_callback(self._waited)

    def _waited(self, task: asyncio.Task[None]) -> None:
        if self._waiting is task:  # a step may have started the next one (look-up → full queue)
            self._waiting = None
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, SinkClosed):
            self._close("shutdown")
        elif isinstance(error, (ConnectionError, OSError)):
            self.close_reason = "reset"
            self._abort()
        elif error is not None:
            logger.error("connection %s failed", self.peer, exc_info=error)
            self._abort()
        else:
            self._pump()

    def _count_garbage(self) -> None:
        total = self.decoder.deframer.garbage_bytes
        if total > self._garbage_seen:
            self.metrics.garbage_bytes.inc(total - self._garbage_seen)
            self._garbage_since_good += total - self._garbage_seen
            self._garbage_seen = total

    # ---- one frame --------------------------------------------------------------------

    def _ingest(self, frame: DecodedFrame) -> None:
        arrived = time.monotonic()
        if self._coalesced(frame, arrived):
            return
        mn = frame.mn
        if not mn:
            self._judged(frame, None, arrived)
            return
        known, auth = self.listener.directory.cached(mn)
        if known:
            self._judged(frame, auth, arrived)
        else:
            self._wait_then(self._look_up(frame, mn, arrived))

    async def _look_up(self, frame: DecodedFrame, mn: str, arrived: float) -> None:
        auth = await self.listener.directory.get(mn)
        self._judged(frame, auth, arrived)

    def _judged(self, frame: DecodedFrame, auth: PointAuth | None, arrived: float) -> None:
        record = frame_record(frame, auth, peer=self.peer, received_at=clock.now())
        if not record.is_accepted:
            self._reject(record)
            return
        assert auth is not None and frame.message is not None
        self._rejects_in_row = 0
        self._garbage_since_good = 0
        listener = self.listener
        listener.frames_accepted.inc()
        listener.readings_received.inc(len(record.readings))
        message = frame.message
        if message.is_answer:
            listener.backfill.on_answer(message)
        readings = record.readings
        after = _AfterCommit(
            answer_for(frame),
            message.cn,
            arrived,
            message,
            self._plan_backfill(message, auth, record),
            record.edition,
            auth.point_id,
            max([row.data_time for row in readings]) if readings else None,
        )
        self._submit(record, after)

    def _reject(self, record: IngestRecord) -> None:
        reason = record.frame.reason
        self.listener.frames_rejected.inc()
        self.metrics.rejects.inc(source="tcp", reason=reason)
        self._rejects_in_row += 1
        if self._quarantined < self.settings.quarantine_limit:
            self._quarantined += 1
            self._submit(record, None)
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
        if not self._pending:
            return False
        commit = self._pending.get(frame.frame.raw)
        if commit is None or frame.message is None:
            return False
        self.metrics.retransmits_coalesced.inc()
        after = _AfterCommit(answer_for(frame), frame.message.cn, arrived)
        commit.add_done_callback(functools.partial(self._committed, after))
        return True

    def _submit(self, record: IngestRecord, after: _AfterCommit | None) -> None:
        if self._inflight >= self.settings.max_inflight:
            self._held = (record, after)  # submitted when one in flight is settled
            self._pause()
            return
        commit = self.listener.sink.submit_nowait(record)
        if commit is None:  # the writer's queue is full: wait for room (backpressure)
            self._wait_then(self._submit_waiting(record, after))
        else:
            self._track(record, after, commit)

    async def _submit_waiting(self, record: IngestRecord, after: _AfterCommit | None) -> None:
        self._track(record, after, await self.listener.sink.submit(record))

    def _track(self, record: IngestRecord, after: _AfterCommit | None, commit: Commit) -> None:
        self._inflight += 1
        raw = record.frame.raw
        if after is not None:
            self._pending[raw] = commit
        commit.add_done_callback(functools.partial(self._settled, raw, after))

    def _settled(self, raw: bytes, after: _AfterCommit | None, commit: Commit) -> None:
        self._inflight -= 1
        if self._pending.get(raw) is commit:
            del self._pending[raw]
        if after is not None:
            self._committed(after, commit)
        held = self._held
        if held is not None and not self._stopped:
            self._held = None
            try:
                self._submit(*held)
            except SinkClosed:
                self._close("shutdown")
                return
        if self._paused and not self._blocked():
            self._pump()  # the in-flight cap had paused the connection

    # ---- after commit -----------------------------------------------------------------

    def _committed(self, after: _AfterCommit, commit: Commit) -> None:
        if commit.cancelled() or commit.exception() is not None:
            return
        if commit.result() is not Outcome.STORED:
            return
        directory = self.listener.directory
        message = after.message
        if after.edition is not None and message is not None and message.mn:
            directory.remember_edition(message.mn, after.edition)
        if after.point_id is not None and after.data_time is not None:
            directory.note_data_time(after.point_id, after.data_time)
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if after.answer is not None:
            transport.write(after.answer)
            listener = self.listener
            if after.cn == Cn.TIME_CALIBRATION_REQUEST:
                listener.acks_notification.inc()
            else:
                listener.acks_data.inc()
            self.metrics.ack_seconds.observe(time.monotonic() - after.arrived)
        if message is not None and message.cn == Cn.TIME_CALIBRATION_REQUEST:
            self._send_time(message)
        if after.backfill and message is not None:
            self.listener.spawn(self._backfill(message, after.backfill))

    def _send_time(self, message: Message) -> None:
        """HJ 212 §7.3: after answering a 1013 with 9013, set the device clock (1012)."""
        if not (message.mn and message.pw) or self.transport is None:
            return
        self.transport.write(
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
            transport = self.transport
            if transport is None or transport.is_closing():
                return
            if not (message.mn and message.pw is not None):
                return
            qn, frame = tracker.request(
                window, st=message.st, pw=message.pw, mn=message.mn, edition=message.edition
            )
            logger.info(
                "asking %s for %s data %s … %s", message.mn, window.cn, window.begin, window.end
            )
            transport.write(frame)
            self.metrics.backfill_requests.inc(cn=window.cn)
            await tracker.wait_for_answer(qn)

    # ---- closing ----------------------------------------------------------------------

    def stop_reading(self) -> None:
        """The listener stops: read nothing more, keep the connection for the last acks."""
        self._stopped = True
        self.close_reason = "shutdown"
        self._count_closed()
        if self._waiting is not None:
            self._waiting.cancel()
        self._frames.clear()
        self._held = None
        self._pause()

    def _count_closed(self) -> None:
        if not self._counted:
            self._counted = True
            self.metrics.connections_closed.inc(reason=self.close_reason)

    def _close(self, reason: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if not self._counted:
                self.close_reason = reason
            self._frames.clear()
            self.transport.close()  # flushes the answers written so far, then closes

    def _abort(self) -> None:
        self._frames.clear()
        if self.transport is not None:
            self.transport.abort()


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
        self._connections: set[Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # The per-frame counters, their labels resolved once.
        self.frames_accepted = metrics.frames.labels(source="tcp", verdict="accepted")
        self.frames_rejected = metrics.frames.labels(source="tcp", verdict="rejected")
        self.readings_received = metrics.readings_received.labels()
        self.acks_data = metrics.acks.labels(cn=Cn.DATA_ANSWER)
        self.acks_notification = metrics.acks.labels(cn=Cn.NOTIFICATION_ANSWER)

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self),
            self.settings.host,
            self.settings.port,
            reuse_port=self.settings.reuse_port or None,
            backlog=4096,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def opened(self, connection: Connection) -> None:
        self._connections.add(connection)
        self.metrics.connections.inc()
        self.metrics.connections_open.inc()

    def lost(self, connection: Connection) -> None:
        if connection in self._connections:
            self._connections.discard(connection)
            self.metrics.connections_open.dec()

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a follow-up (back-fill) in the background; cancelled when the listener stops."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop_reading(self) -> None:
        """Stop accepting and reading; connections stay open so acks can still go out."""
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.stop_reading()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self, timeout: float = 5.0) -> None:
        await self.stop_reading()
        connections = list(self._connections)
        for connection in connections:
            if connection.transport is not None:
                connection.transport.close()  # flushes the last answers, then closes
        if connections:
            await asyncio.wait([connection.closed for connection in connections], timeout=timeout)
        for connection in connections:
            if connection.transport is not None and not connection.closed.done():
                connection.transport.abort()  # peers that do not read their answers
        self._connections.clear()
        if self._server is not None:
            await self._server.wait_closed()
