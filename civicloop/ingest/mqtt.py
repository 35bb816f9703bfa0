"""Micro air stations over MQTT: the JSON payload, and the subscriber that feeds the writer.

Topic `civicloop/air/<MN>/data` (the `+` level of the subscription is the MN), QoS 1:

    {"mn": "YWAQ00000001", "pw": "123456", "cn": "2011",
     "data_time": "2024-05-01T08:00:00+08:00",
     "values": {"a34004": 35.2, "a34002": {"Rtd": 61, "Flag": "N"}}}

or, for data buffered during an outage, `"records": [{"cn": "2051", "data_time": …,
"values": …}, …]` next to `mn`/`pw`. See docs/ingest.md. A message is acknowledged to the
broker (PUBACK, manual) only after its record is committed, so with a persistent session
nothing the broker accepted is lost when the service or the database goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import aiomqtt
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from civicloop.ingest.hj212 import DEVICE_TZ, parse_hj_time
from civicloop.ingest.metrics import IngestMetrics
from civicloop.ingest.points import PointDirectory
from civicloop.ingest.records import (
    READING_KINDS,
    IngestRecord,
    Rejection,
    judge_credentials,
    reading_row,
    rejected_record,
)
from civicloop.ingest.sink import Commit, RecordSink
from civicloop.lib import clock
from civicloop.monitoring.models import FrameVerdict, RejectReason
from civicloop.monitoring.writer import PointAuth, RawFrameRow, ReadingRow

logger = logging.getLogger(__name__)

MAX_PAYLOAD = 256 * 1024


def _data_time(value: Any) -> Any:
    """ISO-8601 (naive = China local time, like HJ 212) or HJ 212's 14 local digits."""
    if isinstance(value, str) and value.isdigit():
        parsed = parse_hj_time(value)
        if parsed is None:
            raise ValueError("not a YYYYMMDDhhmmss time")
        return parsed
    if isinstance(value, str):
        parsed_iso = datetime.fromisoformat(value)
        local = parsed_iso if parsed_iso.tzinfo else parsed_iso.replace(tzinfo=DEVICE_TZ)
        return local.astimezone(UTC)
    return value


DataTime = Annotated[datetime, BeforeValidator(_data_time)]
ReadingCn = Annotated[
    Literal["2011", "2051", "2061", "2031"],
    BeforeValidator(lambda value: str(value) if isinstance(value, int) else value),
]
FactorValues = float | dict[str, float | str]


class AirEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    cn: ReadingCn = "2011"
    data_time: DataTime
    values: dict[str, FactorValues] = Field(min_length=1)


class AirMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    mn: str | None = Field(default=None, max_length=24)
    pw: str = Field(max_length=32)
    cn: ReadingCn = "2011"
    data_time: DataTime | None = None
    values: dict[str, FactorValues] | None = None
    records: list[AirEntry] = Field(default_factory=list, max_length=10_000)

    def entries(self) -> list[AirEntry]:
        entries = list(self.records)
        if self.values is not None:
            if self.data_time is None:
                raise ValueError("values without data_time")
            entries.insert(0, AirEntry(cn=self.cn, data_time=self.data_time, values=self.values))
        if not entries:
            raise ValueError("neither values nor records")
        return entries


def topic_mn(topic_filter: str, topic: str) -> str | None:
    """The topic level matched by the filter's first `+` (`civicloop/air/+/data`)."""
    levels = topic_filter.split("/")
    if levels[0] == "$share":  # shared subscription: $share/<group>/<filter>
        levels = levels[2:]
    if "+" not in levels:
        return None
    index = levels.index("+")
    parts = topic.split("/")
    return parts[index] if index < len(parts) else None


def entry_readings(entry: AirEntry, point_id: int, problems: list[str]) -> list[ReadingRow]:
    kind = READING_KINDS[entry.cn]
    shorthand = "Rtd" if entry.cn == "2011" else "Avg"
    rows = []
    for code, given in entry.values.items():
        values: Mapping[str, str] = (
            {name: str(value) for name, value in given.items()}
            if isinstance(given, dict)
            else {shorthand: repr(given)}
        )
        row = reading_row(
            point_id=point_id,
            kind=kind,
            code=code,
            data_time=entry.data_time,
            values=values,
            problems=problems,
        )
        if row is not None:
            rows.append(row)
    return rows


def parse_message(payload: bytes) -> AirMessage:
    """The payload as an `AirMessage`; ValueError when it is not one."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload larger than {MAX_PAYLOAD} bytes")
    try:
        message = AirMessage.model_validate(json.loads(payload))
        message.entries()
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{where}: {first['msg']}"[:200]) from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON: {error}"[:200]) from error
    return message


async def message_record(
    payload: bytes, topic: str, topic_filter: str, directory: PointDirectory
) -> IngestRecord:
    """The record for one MQTT message: accepted with its readings, or rejected."""
    received_at = clock.now()
    peer = f"mqtt:{topic}"[:64]
    mn = topic_mn(topic_filter, topic) or ""
    try:
        message = parse_message(payload)
    except ValueError as error:
        rejection = Rejection(RejectReason.MALFORMED, str(error))
        return rejected_record(
            raw=payload, rejection=rejection, auth=None, peer=peer, received_at=received_at, mn=mn
        )
    if message.mn and mn and message.mn != mn:
        rejection = Rejection(RejectReason.BAD_HEADER, f"MN {message.mn} sent on {topic}")
        return rejected_record(
            raw=payload, rejection=rejection, auth=None, peer=peer, received_at=received_at, mn=mn
        )
    mn = message.mn or mn
    auth = await directory.get(mn) if mn else None
    rejection_or_none = judge_credentials(auth, mn, message.pw)
    if rejection_or_none is not None or auth is None:
        return rejected_record(
            raw=payload,
            rejection=rejection_or_none or Rejection(RejectReason.UNKNOWN_MN),
            auth=auth,
            peer=peer,
            received_at=received_at,
            mn=mn,
            cn=message.cn,
        )
    return _accepted(message, auth, payload, peer=peer, received_at=received_at)


def _accepted(
    message: AirMessage, auth: PointAuth, payload: bytes, *, peer: str, received_at: datetime
) -> IngestRecord:
    problems: list[str] = []
    entries = message.entries()
    readings = [row for entry in entries for row in entry_readings(entry, auth.point_id, problems)]
    frame = RawFrameRow(
        received_at=received_at,
        raw=payload,
        verdict=FrameVerdict.ACCEPTED,
        peer=peer,
        mn=auth.mn,
        cn=entries[0].cn,
        detail="; ".join(problems),
        point_id=auth.point_id,
    )
    # No edition: the column describes the HJ 212 dialect, which MQTT stations do not speak.
    return IngestRecord(frame=frame, readings=tuple(readings))


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    host: str
    port: int = 1883
    topic: str = "civicloop/air/+/data"
    client_id: str = "civicloop-ingest"
    username: str | None = None
    password: str | None = None
    keepalive: int = 30
    reconnect_delay: float = 2.0


class MqttSubscriber:
    """Subscribes with a persistent session and QoS 1; PUBACK only after commit."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        sink: RecordSink,
        directory: PointDirectory,
        metrics: IngestMetrics,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.directory = directory
        self.metrics = metrics
        self.subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="ingest-mqtt")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run_forever(self) -> None:
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as error:
                logger.warning(
                    "MQTT %s:%d: %s; reconnecting", self.settings.host, self.settings.port, error
                )
            finally:
                self.subscribed.clear()
                self.metrics.mqtt_connected.set(0)
            await asyncio.sleep(self.settings.reconnect_delay)

    async def _session(self) -> None:
        settings = self.settings
        client = aiomqtt.Client(
            settings.host,
            settings.port,
            identifier=settings.client_id,
            clean_session=False,  # the broker keeps our subscription and unacked messages
            username=settings.username,
            password=settings.password,
            keepalive=settings.keepalive,
        )
        # aiomqtt has no public switch for manual acknowledgement; paho (underneath) has.
        client._client.manual_ack_set(True)
        async with client:
            await client.subscribe(settings.topic, qos=1)
            self.subscribed.set()
            self.metrics.mqtt_connected.set(1)
            logger.info("subscribed to %s on %s:%d", settings.topic, settings.host, settings.port)
            async for message in client.messages:
                await self._ingest(client, message)

    async def _ingest(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        payload = message.payload if isinstance(message.payload, bytes) else b""
        record = await message_record(
            payload, message.topic.value, self.settings.topic, self.directory
        )
        verdict = "accepted" if record.is_accepted else "rejected"
        self.metrics.frames.inc(source="mqtt", verdict=verdict)
        if record.is_accepted:
            self.metrics.readings_received.inc(len(record.readings))
        else:
            self.metrics.rejects.inc(source="mqtt", reason=record.frame.reason)
        commit = await self.sink.submit(record)
        commit.add_done_callback(functools.partial(_puback, client, message.mid, message.qos))


def _puback(client: aiomqtt.Client, mid: int, qos: int, commit: Commit) -> None:
    """Acknowledge to the broker once the record (or its quarantine) is durable."""
    if qos == 0 or commit.cancelled() or commit.exception() is not None:
        return
    with contextlib.suppress(Exception):  # the session is gone: the broker will redeliver
        client._client.ack(mid, qos)
