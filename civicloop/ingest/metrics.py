"""Prometheus metrics of the ingestion service, and the tiny HTTP endpoint that serves them.

No client library: counters, gauges and histograms in the text exposition format 0.0.4 are a
few dozen lines, and the service runs one event loop, so no locking is needed.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Sequence

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LabelValues = tuple[str, ...]
# Seconds: from a fast commit on an idle box to a PostgreSQL restart.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.2,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)  # 0.2: the acknowledgement target of the connections benchmark
SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(
        f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)
    )
    return "{" + pairs + "}"


def _format_number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help_text = help_text
        self.label_names = tuple(labels)

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {sorted(labels)}")
        return tuple(str(labels[name]) for name in self.label_names)

    def samples(self) -> Iterable[str]:
        raise NotImplementedError

    def render(self) -> str:
        header = f"# HELP {self.name} {self.help_text}\n# TYPE {self.name} {self.kind}\n"
        return header + "".join(line + "\n" for line in self.samples())


class Counter(Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {} if labels else {(): 0.0}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def labels(self, **labels: str) -> CounterChild:
        """The counter for these label values, checked once: for per-frame counting."""
        return CounterChild(self._values, self._key(labels))

    def samples(self) -> Iterable[str]:
        for key, value in sorted(self._values.items()):
            labels = _format_labels(self.label_names, key)
            yield f"{self.name}{labels} {_format_number(value)}"


class CounterChild:
    """One label combination of a `Counter`, its key resolved in advance."""

    __slots__ = ("_key", "_values")

    def __init__(self, values: dict[LabelValues, float], key: LabelValues) -> None:
        self._values = values
        self._key = key
        values.setdefault(key, 0.0)

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        self._values[self._key] += amount


class Gauge(Metric):
    """A value set by the service, or read from `source` at scrape time."""

    kind = "gauge"

    def __init__(
        self, name: str, help_text: str, source: Callable[[], float] | None = None
    ) -> None:
        super().__init__(name, help_text)
        self._value = 0.0
        self._source = source

    def set(self, value: float) -> None:
        self._value = value

    def bind(self, source: Callable[[], float]) -> None:
        """Read the value from `source` at every scrape from now on."""
        self._source = source

    def inc(self, amount: float = 1.0) -> None:
        self._value += amount

    def dec(self, amount: float = 1.0) -> None:
        self._value -= amount

    def value(self) -> float:
        return float(self._source()) if self._source is not None else self._value

    def samples(self) -> Iterable[str]:
        yield f"{self.name} {_format_number(self.value())}"


class Histogram(Metric):
    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        super().__init__(name, help_text)
        self.bounds = tuple(sorted(buckets))
        self._counts = [0] * len(self.bounds)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        index = bisect.bisect_left(self.bounds, value)  # the first bound >= value
        if index < len(self._counts):
            self._counts[index] += 1

    def samples(self) -> Iterable[str]:
        cumulative = 0
        for bound, count in zip(self.bounds, self._counts, strict=True):
            cumulative += count
            yield f'{self.name}_bucket{{le="{_format_number(bound)}"}} {cumulative}'
        yield f'{self.name}_bucket{{le="+Inf"}} {self.count}'
        yield f"{self.name}_sum {_format_number(self.sum)}"
        yield f"{self.name}_count {self.count}"


class IngestMetrics:
    """Every metric the service exports; one instance per service."""

    def __init__(self) -> None:
        prefix = "civicloop_ingest"
        self.connections = Counter(f"{prefix}_connections_total", "TCP connections accepted")
        self.connections_open = Gauge(f"{prefix}_connections_open", "TCP connections open now")
        self.connections_closed = Counter(
            f"{prefix}_connections_closed_total", "TCP connections closed, by reason", ["reason"]
        )
        self.frames = Counter(
            f"{prefix}_frames_total",
            "Frames and MQTT messages received, by source and verdict",
            ["source", "verdict"],
        )
        self.rejects = Counter(
            f"{prefix}_rejects_total", "Frames rejected, by reason", ["source", "reason"]
        )
        self.retransmits_coalesced = Counter(
            f"{prefix}_retransmits_coalesced_total",
            "Retransmissions of a frame still being committed (answered with the original)",
        )
        self.quarantine_skipped = Counter(
            f"{prefix}_quarantine_skipped_total",
            "Rejected frames counted but not stored (per-connection quarantine cap reached)",
        )
        self.garbage_bytes = Counter(f"{prefix}_garbage_bytes_total", "Bytes outside any frame")
        self.readings_received = Counter(
            f"{prefix}_readings_received_total", "Readings in accepted frames handed to the writer"
        )
        self.readings_written = Counter(
            f"{prefix}_readings_written_total", "Readings committed (new rows; repeats count 0)"
        )
        self.records_committed = Counter(
            f"{prefix}_records_committed_total", "Frames and messages committed by the writer"
        )
        self.acks = Counter(f"{prefix}_acks_total", "Answers sent after commit, by CN", ["cn"])
        self.ack_seconds = Histogram(
            f"{prefix}_ack_seconds",
            "From the end of a frame's arrival to its answer being written",
            LATENCY_BUCKETS,
        )
        self.queue_depth = Gauge(f"{prefix}_queue_depth", "Records waiting for the writer")
        self.queue_capacity = Gauge(f"{prefix}_queue_capacity", "Bound of the writer queue")
        self.commit_seconds = Histogram(
            f"{prefix}_commit_seconds", "Time to store and commit one batch", LATENCY_BUCKETS
        )
        self.batch_records = Histogram(
            f"{prefix}_batch_records", "Records per committed batch", SIZE_BUCKETS
        )
        self.db_errors = Counter(
            f"{prefix}_db_errors_total", "Database errors of the writer, by kind", ["kind"]
        )
        self.backfill_requests = Counter(
            f"{prefix}_backfill_requests_total", "History requests sent, by CN", ["cn"]
        )
        self.backfill_replies = Counter(
            f"{prefix}_backfill_replies_total",
            "Answers to history requests, by CN and return code",
            ["cn", "rtn"],
        )
        self.mqtt_connected = Gauge(f"{prefix}_mqtt_connected", "1 while subscribed to MQTT")

    def all(self) -> list[Metric]:
        return [value for value in vars(self).values() if isinstance(value, Metric)]

    def render(self) -> str:
        return "".join(metric.render() for metric in self.all())


class MetricsServer:
    """`GET /metrics` in the Prometheus text format; everything else is 404."""

    def __init__(self, metrics: IngestMetrics, *, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                request = await reader.readuntil(b"\r\n\r\n")
            writer.write(self._response(request))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _response(self, request: bytes) -> bytes:
        method, _, rest = request.partition(b" ")
        path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        if method in (b"GET", b"HEAD") and path in (b"/metrics", b"/"):
            status, body, content_type = "200 OK", self.metrics.render().encode(), CONTENT_TYPE
        else:
            status, body, content_type = "404 Not Found", b"not found\n", "text/plain"
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        return head if method == b"HEAD" else head + body
