"""From decoded frames and MQTT payloads to monitoring rows, verdicts and metrics (no I/O)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from civicloop.ingest.hj212 import build_cp, decode, encode_frame
from civicloop.ingest.metrics import Counter, Gauge, Histogram, IngestMetrics
from civicloop.ingest.mqtt import parse_message, topic_mn
from civicloop.ingest.records import frame_record, judge, message_rows, to_batch
from civicloop.ingest.tests.conftest import T0
from civicloop.monitoring.models import FrameVerdict, RejectReason
from civicloop.monitoring.writer import PointAuth

AUTH = PointAuth(7, "MN0001", "123456", "standard", "active", "unknown")


def frame(cn: str = "2011", fields=None, pollutants=None, **header: Any):
    options: dict[str, Any] = {"st": "32", "pw": "123456", "mn": "MN0001", "flag": 5} | header
    data = encode_frame(cn=cn, cp=build_cp(fields, pollutants), **options)
    [decoded] = decode(data, crc="any")
    return decoded


def test_real_time_values_become_readings_with_every_suffix():
    decoded = frame(
        fields={"DataTime": T0},
        pollutants={
            "w01018": {"Rtd": "12.5", "Flag": "N", "EFlag": "A01", "SampleTime": T0},
            "a21026": {"ZsRtd": "3.25", "Rtd": "2.5"},
            "vendor_x": {"Rtd": "-0.052"},
        },
    )

    rows = message_rows(decoded.message, AUTH.point_id)

    by_code = {row.code: row for row in rows.readings}
    assert (by_code["w01018"].rtd, by_code["w01018"].flag, by_code["w01018"].eflag) == (
        12.5,
        "N",
        "A01",
    )
    assert by_code["w01018"].sample_time == T0
    assert (by_code["a21026"].rtd, by_code["a21026"].zs_rtd) == (2.5, 3.25)
    assert by_code["vendor_x"].rtd == -0.052  # unknown codes are kept
    assert {row.kind for row in rows.readings} == {2011}
    assert rows.problems == []


def test_values_that_are_not_numbers_are_dropped_and_noted():
    decoded = frame(
        fields={"DataTime": T0},
        pollutants={"w01018": {"Rtd": "NaN", "Flag": "N"}, "w21003": {"Rtd": "abc"}},
    )

    rows = message_rows(decoded.message, AUTH.point_id)

    assert [(row.code, row.rtd, row.flag) for row in rows.readings] == [("w01018", None, "N")]
    assert rows.problems == ["w01018-Rtd", "w21003-Rtd"]


def test_minute_hour_day_kinds_and_status_and_site_info():
    minute = message_rows(
        frame("2051", {"DataTime": T0}, {"w01018": {"Avg": "1", "Cou": "2"}}).message, 1
    )
    status = message_rows(frame("2041", {"DataTime": T0}, {"SB1": {"RT": "23.5"}}).message, 1)
    info = message_rows(
        frame("3020", {"DataTime": T0, "PolId": "w01018"}, {"i12001": {"Info": "0"}}).message, 1
    )

    assert [(row.kind, row.avg, row.cou) for row in minute.readings] == [(2051, 1.0, 2.0)]
    assert [(row.kind, row.code, row.value) for row in status.statuses] == [(2041, "SB1", 23.5)]
    assert [(row.pol_id, row.info_id, row.value) for row in info.site_infos] == [
        ("w01018", "i12001", "0")
    ]


def test_values_without_data_time_are_rejected_as_malformed():
    decoded = frame(pollutants={"w01018": {"Rtd": "1"}})

    record = frame_record(decoded, AUTH, peer="1.2.3.4:5", received_at=T0)

    assert (record.frame.verdict, record.frame.reason) == (
        FrameVerdict.REJECTED,
        RejectReason.MALFORMED,
    )
    assert record.frame.point_id == AUTH.point_id and record.readings == ()


def test_an_empty_real_time_frame_is_a_heartbeat():
    record = frame_record(frame(), AUTH, peer="p", received_at=T0)

    assert record.is_accepted and record.readings == ()


@pytest.mark.parametrize(
    ("auth", "header", "reason"),
    [
        (None, {}, RejectReason.UNKNOWN_MN),
        (AUTH, {"pw": "000000"}, RejectReason.BAD_PASSWORD),
        (PointAuth(7, "MN0001", "123456", "standard", "disabled", "2017"), {}, "point_disabled"),
        (AUTH, {"crc": "modbus"}, RejectReason.CRC_MISMATCH),
    ],
)
def test_verdicts(auth, header, reason):
    decoded = frame(fields={"DataTime": T0}, **header)

    assert judge(decoded, auth).reason == reason


def test_the_edition_is_reported_once():
    record = frame_record(frame(fields={"DataTime": T0}), AUTH, peer="p", received_at=T0)
    known = PointAuth(7, "MN0001", "123456", "standard", "active", "2017")

    assert record.edition == "2017"
    assert frame_record(frame(), known, peer="p", received_at=T0).edition is None
    assert to_batch([record]).editions == {7: "2017"}


def test_mqtt_payloads():
    message = parse_message(
        b'{"pw": 123456, "cn": 2011, "data_time": "20240501080000", "values": {"a34004": 35}}'
    )
    assert (message.pw, message.cn, message.entries()[0].data_time) == ("123456", "2011", T0)
    naive = parse_message(b'{"pw": "1", "data_time": "2024-05-01T08:00:00", "values": {"a": 1}}')
    assert naive.entries()[0].data_time == T0  # China local time, like HJ 212
    for bad in (b"[]", b'{"pw": "1"}', b'{"pw": "1", "values": {"a": 1}}', b"\xff"):
        with pytest.raises(ValueError):
            parse_message(bad)


def test_topic_mn():
    assert topic_mn("civicloop/air/+/data", "civicloop/air/YW01/data") == "YW01"
    assert topic_mn("$share/g/civicloop/air/+/data", "civicloop/air/YW01/data") == "YW01"
    assert topic_mn("civicloop/air/#", "civicloop/air/YW01/data") is None


def test_prometheus_text():
    counter = Counter("x_total", "X.", ["reason"])
    counter.inc(reason='a"b')
    gauge = Gauge("depth", "Depth.")
    gauge.bind(lambda: 3)
    histogram = Histogram("seconds", "S.", [0.1, 1])
    histogram.observe(0.05)
    histogram.observe(timedelta(seconds=5).total_seconds())

    text = counter.render() + gauge.render() + histogram.render()

    assert 'x_total{reason="a\\"b"} 1\n' in text
    assert "# TYPE depth gauge\ndepth 3\n" in text
    assert (
        'seconds_bucket{le="0.1"} 1\nseconds_bucket{le="1"} 1\nseconds_bucket{le="+Inf"} 2\n'
        in text
    )
    assert "seconds_count 2\n" in text
    assert "civicloop_ingest_commit_seconds_bucket" in IngestMetrics().render()
