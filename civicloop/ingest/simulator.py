"""Virtual HJ 212 data loggers: drive a listener with a realistic mix of devices and faults.

Each `VirtualDevice` keeps one TCP connection, uploads real-time (2011) or minute (2051) data
with Flag "answer me", waits for the 9014, retransmits on timeout (HJ 212 §7.5) and reconnects
when the connection drops. It answers history requests (9011, the records, 9012) with values
that are a pure function of (MN, code, time), so back-filled data can be checked. Faults:
split and sticky TCP writes, a bad-CRC copy, garbage bytes, and abrupt disconnects.

Used by `civicloop hj212 simulate`, the ingest tests and `bench/bench_ingest.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import functools
import math
import random
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from civicloop.ingest.hj212 import (
    Cn,
    CrcVariant,
    DecodedFrame,
    Deframer,
    Edition,
    Message,
    RawFrame,
    build_cp,
    build_execution_result,
    build_request_answer,
    decode_frame,
    encode_frame,
    encode_segment,
    format_hj_time,
    frame_segment,
    make_qn,
    parse_hj_time,
)
from civicloop.ingest.hj212.cp import CpValue, format_value


class DeviceKind(enum.StrEnum):
    WASTEWATER = "wastewater"
    AIR = "air"


class Fault(enum.StrEnum):
    SPLIT = "split"  # one frame in several TCP writes
    STICKY = "sticky"  # several frames in one TCP write
    BAD_CRC = "bad_crc"  # a copy with a wrong CRC first (never acknowledged)
    GARBAGE = "garbage"  # junk bytes (or an HTTP scan) before the frame
    DISCONNECT = "disconnect"  # drop the connection before the answer arrives


# (code, low, high): plausible ranges; 2005 wastewater uses the 2005 code list, 2005 air
# stations the 2017 codes in 2005 framing (the common mixed case, hj212.md §11).
FACTORS: dict[tuple[Edition, DeviceKind], tuple[tuple[str, float, float], ...]] = {
    (Edition.HJ212_2017, DeviceKind.WASTEWATER): (
        ("w01018", 15.0, 60.0),
        ("w21003", 0.2, 5.0),
        ("w21011", 0.05, 0.5),
        ("w21001", 3.0, 15.0),
        ("w01001", 6.5, 8.5),
        ("w00000", 5.0, 30.0),
    ),
    (Edition.HJT212_2005, DeviceKind.WASTEWATER): (
        ("011", 15.0, 60.0),
        ("060", 0.2, 5.0),
        ("101", 0.05, 0.5),
        ("065", 3.0, 15.0),
        ("001", 6.5, 8.5),
        ("B01", 5.0, 30.0),
    ),
    (Edition.HJ212_2017, DeviceKind.AIR): (
        ("a34004", 8.0, 80.0),
        ("a34002", 15.0, 150.0),
        ("a21026", 3.0, 30.0),
        ("a21004", 8.0, 60.0),
        ("a05024", 30.0, 160.0),
        ("a21005", 0.3, 1.5),
        ("a01001", 5.0, 35.0),
        ("a01002", 35.0, 95.0),
    ),
    (Edition.HJT212_2005, DeviceKind.AIR): (
        ("a34004", 8.0, 80.0),
        ("a34002", 15.0, 150.0),
        ("a21026", 3.0, 30.0),
        ("a21004", 8.0, 60.0),
    ),
}
_MIX = (
    (Edition.HJ212_2017, DeviceKind.WASTEWATER),
    (Edition.HJ212_2017, DeviceKind.AIR),
    (Edition.HJT212_2005, DeviceKind.WASTEWATER),
    (Edition.HJT212_2005, DeviceKind.AIR),
)
MAX_HISTORY_RECORDS = 5000


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    mn: str
    pw: str
    edition: Edition
    kind: DeviceKind
    crc: CrcVariant = CrcVariant.STANDARD
    name: str = ""
    latitude: float | None = None
    longitude: float | None = None

    @property
    def st(self) -> str:
        return "32" if self.kind is DeviceKind.WASTEWATER else "22"

    @property
    def factors(self) -> tuple[tuple[str, float, float], ...]:
        return FACTORS[(self.edition, self.kind)]


def make_specs(count: int, *, prefix: str = "YWSIM", password: str = "123456") -> list[DeviceSpec]:
    """`count` devices cycling through 2017/2005 × wastewater/air; MN = prefix + number."""
    width = max(1, 24 - len(prefix))
    return [
        DeviceSpec(
            mn=f"{prefix}{index:0{width}d}"[:24],
            pw=password,
            edition=_MIX[index % len(_MIX)][0],
            kind=_MIX[index % len(_MIX)][1],
        )
        for index in range(count)
    ]


def factor_value(mn: str, code: str, at: datetime, low: float, high: float) -> float:
    """A value that depends only on (MN, code, time), so a re-sent record is identical."""
    stamp = int(at.timestamp())
    fraction = zlib.crc32(f"{mn}|{code}|{stamp}".encode()) / 0xFFFFFFFF
    wave = 0.5 + 0.3 * math.sin(stamp / 3600.0)
    return round(low + (high - low) * (0.6 * wave + 0.4 * fraction), 3)


def data_frame(
    spec: DeviceSpec, cn: str, data_time: datetime, qn: str, *, ack: bool = True
) -> bytes:
    """An upload of `cn` (2011 real-time; 2051/2061/2031 interval data) at `data_time`.

    The same bytes as `data_frame_generic`, from a per-device template: a simulator process
    drives thousands of devices, and the general builder (checked names, Decimal formatting)
    cost it more CPU than the listener spent decoding the frame.
    """
    head = _segment_head(spec, cn, ack)
    realtime = cn == Cn.REALTIME_DATA
    groups = [f"DataTime={format_hj_time(data_time)}"]
    for code, low, high in spec.factors:
        value = factor_value(spec.mn, code, data_time, low, high)
        if realtime:
            groups.append(f"{code}-Rtd={_number(value)},{code}-Flag=N")
        else:
            spread = round((high - low) * 0.05, 3)
            groups.append(
                f"{code}-Min={_number(round(value - spread, 3))},{code}-Avg={_number(value)},"
                f"{code}-Max={_number(round(value + spread, 3))},{code}-Flag=N"
            )
    return frame_segment(f"QN={qn};{head}CP=&&{';'.join(groups)}&&", crc=spec.crc)


@functools.lru_cache(maxsize=65536)
def _segment_head(spec: DeviceSpec, cn: str, ack: bool) -> str:
    """`ST=…;CN=…;PW=…;MN=…;Flag=…;` of a device's uploads (checked by the codec once)."""
    if spec.edition is Edition.HJ212_2017:
        flag: int | None = 5 if ack else 4
    else:
        flag = 1 if ack else None
    segment = encode_segment(st=spec.st, cn=cn, qn="0", pw=spec.pw, mn=spec.mn, flag=flag)
    return segment.removeprefix("QN=0;").removesuffix("CP=&&&&")


def _number(value: float) -> str:
    """`format_value` of a float: plain decimals, never an exponent."""
    text = repr(value)
    return text if "e" not in text and "n" not in text else format_value(value)


def data_frame_generic(
    spec: DeviceSpec, cn: str, data_time: datetime, qn: str, *, ack: bool = True
) -> bytes:
    """`data_frame` through the codec's general builder (the reference the tests compare
    the fast path with)."""
    pollutants: dict[str, dict[str, CpValue]] = {}
    for code, low, high in spec.factors:
        value = factor_value(spec.mn, code, data_time, low, high)
        flag = "N"
        if cn == Cn.REALTIME_DATA:
            pollutants[code] = {"Rtd": value, "Flag": flag}
        else:
            spread = round((high - low) * 0.05, 3)
            pollutants[code] = {
                "Min": round(value - spread, 3),
                "Avg": value,
                "Max": round(value + spread, 3),
                "Flag": flag,
            }
    if spec.edition is Edition.HJ212_2017:
        flag_value: int | None = 5 if ack else 4
    else:
        flag_value = 1 if ack else None
    return encode_frame(
        st=spec.st,
        cn=cn,
        qn=qn,
        pw=spec.pw,
        mn=spec.mn,
        flag=flag_value,
        cp=build_cp({"DataTime": data_time}, pollutants),
        crc=spec.crc,
    )


def with_bad_crc(frame: bytes) -> bytes:
    """The same frame with its CRC field changed (still four hex digits)."""
    end = frame.rindex(b"\r\n")
    field_ = frame[end - 4 : end]
    value = (int(field_, 16) + 0x1111) & 0xFFFF
    return frame[: end - 4] + b"%04X" % value + frame[end:]


GARBAGE_SAMPLES = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: zgrab/0.x\r\n\r\n",
    b"\x00\x00\x00\x00\x00\x00",
    b"##ab##12",
    b"AT+CSQ\r\n",
)


# ---- statistics ----------------------------------------------------------------------------


@dataclass(slots=True)
class DeviceStats:
    sent: int = 0  # distinct frames sent (retransmissions not counted)
    acked: int = 0
    retransmits: int = 0
    reconnects: int = 0
    history_requests: int = 0
    history_records: int = 0  # records sent in answer to history requests
    faults: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, write → 9014
    acked_times: list[tuple[str, datetime]] = field(default_factory=list)  # (cn, DataTime)


@dataclass(slots=True)
class SimulationReport:
    devices: int
    elapsed: float
    stats: list[DeviceStats]
    specs: list[DeviceSpec]

    def total(self, name: str) -> int:
        return sum(getattr(stats, name) for stats in self.stats)

    @property
    def latencies(self) -> list[float]:
        return [value for stats in self.stats for value in stats.latencies]

    def faults(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for stats in self.stats:
            total.update(stats.faults)
        return dict(sorted(total.items()))

    def summary(self) -> dict[str, object]:
        sent, acked = self.total("sent"), self.total("acked")
        return {
            "devices": self.devices,
            "elapsed_s": round(self.elapsed, 3),
            "sent": sent,
            "acked": acked,
            "acked_ratio": round(acked / sent, 4) if sent else None,
            "frames_per_s": round(acked / self.elapsed, 1) if self.elapsed else None,
            "retransmits": self.total("retransmits"),
            "reconnects": self.total("reconnects"),
            "history_requests": self.total("history_requests"),
            "history_records": self.total("history_records"),
            "faults": self.faults(),
            "ack_latency_ms": latency_summary(self.latencies),
        }


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def latency_summary(latencies: Sequence[float]) -> dict[str, float | int | None]:
    if not latencies:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "p50": round(percentile(ordered, 0.50) * 1000, 2),
        "p90": round(percentile(ordered, 0.90) * 1000, 2),
        "p99": round(percentile(ordered, 0.99) * 1000, 2),
        "max": round(ordered[-1] * 1000, 2),
    }


# ---- one device ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceBehaviour:
    interval: float = 1.0  # seconds between uploads
    cn: str = Cn.REALTIME_DATA  # what the device uploads: 2011 or 2051
    faults: tuple[Fault, ...] = ()
    fault_rate: float = 0.05  # share of uploads that get one of `faults`
    ack_timeout: float = 5.0  # HJ 212 default is 10 s
    retries: int = 3
    reconnect_delay: float = 0.2
    start_offset: float = 0.0  # seconds before the first upload (spreads the load)


class VirtualDevice:
    def __init__(
        self,
        spec: DeviceSpec,
        *,
        host: str,
        port: int,
        behaviour: DeviceBehaviour,
        rng: random.Random | None = None,
        on_ack: Callable[[], object] | None = None,
        start_time: datetime | None = None,
    ) -> None:
        self.spec = spec
        self.host = host
        self.port = port
        self.behaviour = behaviour
        self.rng = rng or random.Random()
        self.on_ack = on_ack
        self.stats = DeviceStats()
        step = 60.0 if behaviour.cn == Cn.MINUTE_DATA else max(1.0, round(behaviour.interval))
        self._step = timedelta(seconds=step)
        start = start_time or datetime.now(UTC)
        self._start = datetime.fromtimestamp(int(start.timestamp() // step * step), UTC)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._waiting: dict[str, asyncio.Future[float]] = {}
        self._qn_clock = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._connecting = asyncio.Lock()

    # ---- the upload loop -------------------------------------------------------------

    async def run(self, *, count: int | None = None, until: float | None = None) -> DeviceStats:
        """Upload `count` records, or until the monotonic time `until`; then disconnect."""
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.behaviour.start_offset
        index = 0
        try:
            while (count is None or index < count) and (until is None or loop.time() < until):
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                if until is not None and loop.time() >= until:
                    break
                index += await self._upload(index, count)
                next_at = max(next_at + self.behaviour.interval, loop.time() - 1.0)
            await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            await self.close()
        return self.stats

    async def _upload(self, index: int, count: int | None) -> int:
        fault = self._pick_fault()
        size = 1 if fault is not Fault.STICKY else self.rng.randint(2, 3)
        if count is not None:
            size = max(1, min(size, count - index))
        frames = [self._record(index + offset) for offset in range(size)]
        if fault is not None:
            self.stats.faults[fault.value] += 1
        await self._deliver(frames, fault)
        return size

    def _record(self, index: int) -> tuple[str, str, datetime, bytes]:
        data_time = self._start + index * self._step
        qn = self.next_qn()
        cn = self.behaviour.cn
        return qn, cn, data_time, data_frame(self.spec, cn, data_time, qn)

    def next_qn(self) -> str:
        """Unique per device: real time, nudged past the last one used."""
        self._qn_clock = max(self._qn_clock + 1, int(time.time() * 1000))
        return make_qn(datetime.fromtimestamp(self._qn_clock / 1000, UTC))

    def _pick_fault(self) -> Fault | None:
        faults = self.behaviour.faults
        if faults and self.rng.random() < self.behaviour.fault_rate:
            return self.rng.choice(faults)
        return None

    async def _deliver(
        self, frames: list[tuple[str, str, datetime, bytes]], fault: Fault | None
    ) -> None:
        """Send until every frame is acknowledged or the retries are used up."""
        self.stats.sent += len(frames)
        pending = {qn: (cn, data_time, frame) for qn, cn, data_time, frame in frames}
        for attempt in range(self.behaviour.retries + 1):
            if attempt:
                self.stats.retransmits += len(pending)
            try:
                await self._connect()
                waits = {qn: self._expect(qn) for qn in pending}
                started = time.perf_counter()
                fault_now, fault = fault, None  # faults hit the first attempt only
                await self._write_frames([item[2] for item in pending.values()], fault_now)
                await self._collect(waits, pending, started)
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                await self._drop_connection()
            for qn in list(self._waiting):
                if qn in pending:
                    self._waiting.pop(qn).cancel()
            if not pending:
                return

    async def _collect(
        self,
        waits: dict[str, asyncio.Future[float]],
        pending: dict[str, tuple[str, datetime, bytes]],
        started: float,
    ) -> None:
        done, _ = await asyncio.wait(waits.values(), timeout=self.behaviour.ack_timeout)
        for qn, waiter in waits.items():
            if waiter in done and not waiter.cancelled() and waiter.exception() is None:
                cn, data_time, _frame = pending.pop(qn)
                self._acked(cn, data_time, waiter.result() - started)
        if self._writer is None or self._writer.is_closing():
            raise ConnectionError("connection lost while waiting for the answer")

    def _acked(self, cn: str, data_time: datetime, latency: float) -> None:
        self.stats.acked += 1
        self.stats.latencies.append(latency)
        self.stats.acked_times.append((cn, data_time))
        if self.on_ack is not None:
            self.on_ack()

    def _expect(self, qn: str) -> asyncio.Future[float]:
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[qn] = waiter
        return waiter

    async def _write_frames(self, frames: list[bytes], fault: Fault | None) -> None:
        writer = self._writer
        assert writer is not None
        if fault is Fault.DISCONNECT:
            writer.write(b"".join(frames))
            await writer.drain()
            await self._drop_connection()
            raise ConnectionError("disconnect fault")
        if fault is Fault.SPLIT:
            await self._write_split(b"".join(frames))
            return
        prefix = b""
        if fault is Fault.BAD_CRC:
            prefix = with_bad_crc(frames[0])
        elif fault is Fault.GARBAGE:
            prefix = self.rng.choice(GARBAGE_SAMPLES)
        writer.write(prefix + b"".join(frames))  # STICKY: all frames in one write
        await writer.drain()

    async def _write_split(self, data: bytes) -> None:
        writer = self._writer
        assert writer is not None
        cuts = sorted(self.rng.sample(range(1, len(data)), k=min(3, len(data) - 1)))
        for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
            writer.write(data[start:end])
            await writer.drain()
            await asyncio.sleep(self.rng.uniform(0.001, 0.02))

    # ---- the connection --------------------------------------------------------------

    async def _connect(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            return  # connected: the common case, without taking the lock
        async with self._connecting:  # history answers and live uploads share the connection
            await self._open()

    async def _open(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            return
        if self._writer is not None:
            self.stats.reconnects += 1
        delay = self.behaviour.reconnect_delay
        while True:
            try:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                break
            except OSError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self._reader_task = asyncio.create_task(self._read_answers(self._reader))

    async def _drop_connection(self) -> None:
        # The closing writer stays: the next _connect() sees it and counts a reconnect.
        if self._writer is not None:
            self._writer.transport.abort()
        if self._reader_task is not None:
            self._reader_task.cancel()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._reader_task is not None:
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        deframer = Deframer()
        try:
            while chunk := await reader.read(65536):
                for raw in deframer.feed(chunk):
                    qn = _data_answer_qn(raw)
                    if qn is not None:
                        self._answered(qn)
                    else:
                        self._on_frame(decode_frame(raw))
        except (ConnectionError, OSError):
            pass
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()  # the server closed: wake up whoever waits for an answer
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError("connection closed"))

    def _on_frame(self, frame: DecodedFrame) -> None:
        message = frame.message
        if not frame.ok or message is None:
            return
        if message.cn == Cn.DATA_ANSWER:
            self._answered(message.qn or "")
        elif message.cn in (Cn.MINUTE_DATA, Cn.HOURLY_DATA, Cn.DAILY_DATA):
            task = asyncio.create_task(self._answer_history(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _answered(self, qn: str) -> None:
        waiter = self._waiting.pop(qn, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(time.perf_counter())

    # ---- history requests ------------------------------------------------------------

    async def _answer_history(self, request: Message) -> None:
        """9011, then the records of [BeginTime, EndTime] (each waits for its 9014), 9012."""
        self.stats.history_requests += 1
        begin = parse_hj_time(request.cp.fields.get("BeginTime", ""))
        end = parse_hj_time(request.cp.fields.get("EndTime", ""))
        qn, pw, mn, edition = request.qn or "", self.spec.pw, self.spec.mn, self.spec.edition
        self._send(build_request_answer(qn=qn, pw=pw, mn=mn, edition=edition))
        if begin is not None and end is not None:
            times = list(_history_times(request.cn, begin, end))
            records = [self._history_record(request.cn, at) for at in times]
            with contextlib.suppress(ConnectionError, OSError):
                await self._deliver(records, None)
            self.stats.history_records += len(records)
        self._send(build_execution_result(qn=qn, pw=pw, mn=mn, edition=edition))

    def _history_record(self, cn: str, at: datetime) -> tuple[str, str, datetime, bytes]:
        qn = self.next_qn()
        return qn, cn, at, data_frame(self.spec, cn, at, qn)

    def _send(self, frame: bytes) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(frame)


def _data_answer_qn(frame: RawFrame) -> str | None:
    """The QN a well-formed 9014 answers (2017: in the header; 2005: inside CP), found
    without parsing the whole frame; None for anything else (parsed the usual way)."""
    if frame.errors or b"CN=9014;" not in frame.data:
        return None
    segment = frame.data
    start = segment.find(b"QN=")
    if start < 0 or not (start == 0 or segment[start - 1 : start] in (b";", b"&")):
        return None
    qn = segment[start + 3 : start + 20]
    if len(qn) != 17 or not qn.isdigit() or segment[start + 20 : start + 21] not in b";,&":
        return None
    return qn.decode("ascii")


def _history_times(cn: str, begin: datetime, end: datetime) -> Iterable[datetime]:
    steps: dict[str, timedelta] = {
        Cn.MINUTE_DATA: timedelta(minutes=1),
        Cn.HOURLY_DATA: timedelta(hours=1),
    }
    step = steps.get(cn, timedelta(days=1))
    at = begin
    for _ in range(MAX_HISTORY_RECORDS):
        if at > end:
            return
        yield at
        at += step


# ---- many devices --------------------------------------------------------------------------


def parse_rate(text: str) -> float:
    """Uploads per second per device: `2`, `0.5` or `1/30` (every 30 s)."""
    numerator, slash, denominator = text.partition("/")
    rate = float(numerator) / float(denominator) if slash else float(text)
    if not rate > 0 or not math.isfinite(rate):
        raise ValueError(f"rate must be a positive number, not {text!r}")
    return rate


async def simulate(
    specs: Sequence[DeviceSpec],
    *,
    host: str,
    port: int,
    behaviour: DeviceBehaviour,
    count: int | None = None,
    duration: float | None = None,
    spread: bool = True,
    seed: int | None = None,
    on_ack: Callable[[], object] | None = None,
) -> SimulationReport:
    """Run every device until it sent `count` uploads or `duration` seconds passed."""
    if count is None and duration is None:
        raise ValueError("give count or duration")
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    started = loop.time()
    until = started + duration if duration is not None else None
    devices = []
    for spec in specs:
        offset = rng.uniform(0, behaviour.interval) if spread else 0.0
        device_behaviour = dataclasses.replace(behaviour, start_offset=offset)
        device_rng = random.Random(rng.getrandbits(64))
        devices.append(
            VirtualDevice(
                spec,
                host=host,
                port=port,
                behaviour=device_behaviour,
                rng=device_rng,
                on_ack=on_ack,
            )
        )
    stats = await asyncio.gather(*(device.run(count=count, until=until) for device in devices))
    return SimulationReport(
        devices=len(devices), elapsed=loop.time() - started, stats=list(stats), specs=list(specs)
    )
