"""Micro air stations over MQTT, through the machine's Mosquitto (skipped when 1883 is closed)."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from datetime import timedelta

import aiomqtt
import pytest

from civicloop.ingest.mqtt import MqttSettings
from civicloop.ingest.tests.conftest import T0, ingest_config
from civicloop.monitoring.models import FrameVerdict, RawFrame, Reading, ReadingKind, RejectReason

BROKER = ("127.0.0.1", 1883)


def _broker_is_up() -> bool:
    try:
        socket.create_connection(BROKER, timeout=1).close()
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _broker_is_up(), reason="no MQTT broker on 127.0.0.1:1883 (start Mosquitto)"
)


@pytest.fixture
def mqtt_settings():
    """A topic tree and client id of this test's own; the broker forgets the session after."""
    run = uuid.uuid4().hex[:10]
    settings = MqttSettings(
        host=BROKER[0],
        port=BROKER[1],
        topic=f"civicloop-test/{run}/air/+/data",
        client_id=f"civicloop-test-{run}",
        reconnect_delay=0.2,
    )
    yield settings
    asyncio.run(_forget_session(settings.client_id))


async def _forget_session(client_id: str) -> None:
    async with aiomqtt.Client(*BROKER, identifier=client_id, clean_session=True):
        pass


def publish(settings: MqttSettings, messages: list[tuple[str, bytes]]) -> None:
    async def send() -> None:
        async with aiomqtt.Client(*BROKER, identifier=f"{settings.client_id}-pub") as client:
            for mn, payload in messages:
                topic = settings.topic.replace("+", mn)
                await client.publish(topic, payload, qos=1)

    asyncio.run(send())


def payload(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_station_payloads_are_stored_and_bad_ones_quarantined(live, specs, mqtt_settings):
    station = specs[1]  # 2017 air micro station
    service = live(ingest_config(mqtt=mqtt_settings))
    service.wait_for(
        lambda: service.service.mqtt is not None and service.service.mqtt.subscribed.is_set()
    )
    values = {"a34004": 35.2, "a34002": {"Rtd": 61, "Flag": "N"}}
    publish(
        mqtt_settings,
        [
            (
                station.mn,
                payload(
                    mn=station.mn,
                    pw=station.pw,
                    data_time="2024-05-01T08:00:00+08:00",
                    values=values,
                ),
            ),
            (
                station.mn,
                payload(
                    pw=station.pw,
                    records=[
                        {
                            "cn": "2051",
                            "data_time": "20240501080000",
                            "values": {"a34004": {"Avg": 30.5, "Min": 28, "Max": 33}},
                        }
                    ],
                ),
            ),
            (station.mn, payload(pw="wrong", data_time="20240501080100", values=values)),
            ("YWNOBODY", payload(pw="x", data_time="20240501080100", values=values)),
            (station.mn, b"{not json"),
        ],
    )

    service.wait_for(lambda: service.metric("records_committed") == 5)
    assert service.metric("frames", source="mqtt", verdict="accepted") == 2
    service.stop()
    readings = {
        (row.kind, row.code): (row.data_time, row.rtd, row.avg, row.min, row.max, row.flag)
        for row in Reading.objects.filter(point__mn=station.mn)
    }
    assert readings == {
        (ReadingKind.REALTIME, "a34004"): (T0, 35.2, None, None, None, ""),
        (ReadingKind.REALTIME, "a34002"): (T0, 61.0, None, None, None, "N"),
        (ReadingKind.MINUTE, "a34004"): (T0, None, 30.5, 28.0, 33.0, ""),
    }
    rejected = RawFrame.objects.filter(verdict=FrameVerdict.REJECTED)
    assert sorted((frame.reason, frame.mn, frame.point_id) for frame in rejected) == [
        (RejectReason.BAD_PASSWORD, station.mn, None),
        (RejectReason.MALFORMED, station.mn, None),
        (RejectReason.UNKNOWN_MN, "YWNOBODY", None),
    ]
    assert RawFrame.objects.get(verdict=FrameVerdict.ACCEPTED, cn="2011").peer.startswith("mqtt:")


def test_messages_sent_while_the_service_is_down_arrive_after_restart(live, specs, mqtt_settings):
    station = specs[1]
    first = live(ingest_config(mqtt=mqtt_settings))
    first.wait_for(
        lambda: first.service.mqtt is not None and first.service.mqtt.subscribed.is_set()
    )
    first.stop()  # the broker keeps the persistent session and queues for it
    later = T0 + timedelta(minutes=5)
    publish(
        mqtt_settings,
        [(station.mn, payload(pw=station.pw, data_time=later.isoformat(), values={"a34004": 12}))],
    )

    second = live(ingest_config(mqtt=mqtt_settings))
    second.wait_for(lambda: second.metric("records_committed") == 1)
    second.stop()
    assert Reading.objects.get(point__mn=station.mn).data_time == later
