"""End to end over loopback TCP: devices → listener → writer → test database → 9014."""

from __future__ import annotations

import dataclasses
import importlib.util
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

import psycopg
import pytest
from django.db import OperationalError

from civicloop.ingest.database import AsyncPostgres
from civicloop.ingest.hj212 import (
    CrcVariant,
    build_cp,
    encode_frame,
)
from civicloop.ingest.listener import ListenerSettings
from civicloop.ingest.simulator import DeviceSpec, data_frame, factor_value, with_bad_crc
from civicloop.ingest.sink import WriterSettings
from civicloop.ingest.tests.conftest import T0, ingest_config
from civicloop.monitoring.models import (
    CrcVariant as PointCrc,
)
from civicloop.monitoring.models import (
    FacilityStatus,
    FrameVerdict,
    MonitoringPoint,
    RawFrame,
    Reading,
    ReadingKind,
    RejectReason,
    SiteInfo,
)
from civicloop.monitoring.writer import BatchResult, WriteBatch, store_batch


def qn(n: int) -> str:
    return f"20240501080000{n:03d}"


def readings_of(spec: DeviceSpec) -> int:
    return Reading.objects.filter(point__mn=spec.mn).count()


# The service's own event loop in production is uvloop when installed (`--event-loop auto`).
EVENT_LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(
    importlib.util.find_spec("uvloop") is None, reason="uvloop not installed"))]  # fmt: skip


@pytest.mark.parametrize("event_loop", EVENT_LOOPS)
def test_frames_are_stored_then_acknowledged(live, device_socket, specs, event_loop):
    service = live(event_loop=event_loop)
    sock = device_socket(service.port)
    frames = [data_frame(spec, "2011", T0, qn(index)) for index, spec in enumerate(specs)]
    sock.send(b"".join(frames))

    answers = sock.answers(4)

    assert [answer.cn for answer in answers] == ["9014"] * 4
    assert sorted(answer.qn for answer in answers) == [qn(index) for index in range(4)]
    by_qn = {answer.qn: answer for answer in answers}
    assert by_qn[qn(0)].message.header["MN"] == specs[0].mn  # 2017 form
    assert by_qn[qn(2)].cp.fields == {"QN": qn(2), "CN": "2011"}  # 2005 form
    service.stop()
    for spec in specs:
        rows = Reading.objects.filter(point__mn=spec.mn, kind=ReadingKind.REALTIME)
        assert {(row.code, row.data_time, row.rtd, row.flag) for row in rows} == {
            (code, T0, factor_value(spec.mn, code, T0, low, high), "N")
            for code, low, high in spec.factors
        }
        point = MonitoringPoint.objects.get(mn=spec.mn)
        assert point.protocol_edition == spec.edition.value
        assert point.last_data_time == T0
        assert point.last_seen_at is not None
    assert RawFrame.objects.filter(verdict=FrameVerdict.ACCEPTED).count() == 4


@pytest.mark.parametrize("event_loop", EVENT_LOOPS)
def test_unknown_mn_wrong_password_and_bad_crc_are_quarantined(
    live, device_socket, specs, event_loop
):
    service = live(event_loop=event_loop)
    sock = device_socket(service.port)
    spec = specs[0]
    unknown = dataclasses.replace(spec, mn="YWUNKNOWN000000000000001")
    wrong_password = dataclasses.replace(spec, pw="654321")
    sock.send(
        data_frame(unknown, "2011", T0, qn(1))
        + data_frame(wrong_password, "2011", T0 + timedelta(seconds=1), qn(2))
        + with_bad_crc(data_frame(spec, "2011", T0 + timedelta(seconds=2), qn(3)))
        + data_frame(spec, "2011", T0 + timedelta(seconds=3), qn(4))
    )

    answers = sock.answers(1, timeout=10)

    assert [answer.qn for answer in answers] == [qn(4)]
    assert sock.silent_for(0.3)
    metrics = service.scrape()
    for reason in ("unknown_mn", "bad_password", "crc_mismatch"):
        assert f'civicloop_ingest_rejects_total{{source="tcp",reason="{reason}"}} 1' in metrics
    service.stop()
    rejected = RawFrame.objects.filter(verdict=FrameVerdict.REJECTED)
    point = MonitoringPoint.objects.get(mn=spec.mn)
    assert {(frame.reason, frame.mn, frame.point_id) for frame in rejected} == {
        (RejectReason.UNKNOWN_MN, unknown.mn, None),
        (RejectReason.BAD_PASSWORD, spec.mn, None),  # quarantined: maybe not the device
        (RejectReason.CRC_MISMATCH, spec.mn, point.pk),  # the device, with a broken frame
    }
    assert set(Reading.objects.values_list("data_time", flat=True)) == {T0 + timedelta(seconds=3)}
    assert not Reading.objects.filter(point__mn=unknown.mn).exists()


def test_crc_variant_must_be_enabled_for_the_point(live, device_socket, specs):
    MonitoringPoint.objects.filter(mn=specs[1].mn).update(crc_variant=PointCrc.MODBUS_SWAPPED)
    service = live()
    sock = device_socket(service.port)
    standard_point = dataclasses.replace(specs[0], crc=CrcVariant.MODBUS)
    swapped_point = dataclasses.replace(specs[1], crc=CrcVariant.MODBUS_SWAPPED)
    sock.send(
        data_frame(standard_point, "2011", T0, qn(1)) + data_frame(swapped_point, "2011", T0, qn(2))
    )

    assert [answer.qn for answer in sock.answers(1, timeout=10)] == [qn(2)]
    assert sock.silent_for(0.3)
    service.stop()
    frames = {frame.mn: frame for frame in RawFrame.objects.all()}
    assert frames[specs[0].mn].reason == RejectReason.CRC_MISMATCH
    assert "modbus CRC is not enabled" in frames[specs[0].mn].detail
    assert frames[specs[1].mn].crc_variant == PointCrc.MODBUS_SWAPPED
    assert readings_of(specs[0]) == 0
    assert readings_of(specs[1]) == len(specs[1].factors)


def test_acknowledgement_only_after_the_commit(live, device_socket, specs):
    entered, release = threading.Event(), threading.Event()

    def slow_store(batch: WriteBatch) -> BatchResult:
        entered.set()
        assert release.wait(10)
        return store_batch(batch)

    service = live(store=slow_store)
    sock = device_socket(service.port)
    sock.send(data_frame(specs[0], "2011", T0, qn(1)))

    assert entered.wait(5)
    assert sock.silent_for(0.5)  # the writer holds the batch: no answer yet
    release.set()
    [answer] = sock.answers(1)

    assert answer.qn == qn(1)
    assert service.query(readings_of, specs[0]) == len(specs[0].factors)


def test_database_outage_delays_the_answer_and_loses_nothing(live, device_socket, specs):
    failures = [OperationalError("server closed the connection unexpectedly")] * 2

    def flaky_store(batch: WriteBatch) -> BatchResult:
        if failures:
            raise failures.pop()
        return store_batch(batch)

    config = ingest_config(writer=WriterSettings(batch_delay=0.002, retry_delay=0.05))
    service = live(config, store=flaky_store)
    sock = device_socket(service.port)
    sock.send(data_frame(specs[0], "2011", T0, qn(1)))

    [answer] = sock.answers(1)

    assert answer.qn == qn(1)
    assert service.metric("db_errors", kind="connection") == 2
    assert service.query(readings_of, specs[0]) == len(specs[0].factors)


def test_a_retransmission_is_stored_once_and_answered_again(live, device_socket, specs):
    service = live()
    sock = device_socket(service.port)
    frame = data_frame(specs[0], "2011", T0, qn(1))
    sock.send(frame)
    sock.answers(1)
    sock.send(frame)

    assert [answer.qn for answer in sock.answers(1)] == [qn(1)]
    service.stop()
    assert readings_of(specs[0]) == len(specs[0].factors)
    assert RawFrame.objects.filter(verdict=FrameVerdict.ACCEPTED).count() == 2


def test_split_sticky_garbage_and_missing_crlf(live, device_socket, specs):
    service = live()
    sock = device_socket(service.port)
    first = data_frame(specs[0], "2011", T0, qn(1))
    second = data_frame(specs[1], "2011", T0, qn(2))
    third = data_frame(specs[2], "2011", T0, qn(3))[:-2]  # no CRLF, and nothing follows
    scan = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    sock.send(scan + first[:10])
    time.sleep(0.05)
    sock.send(first[10:50])
    time.sleep(0.05)
    sock.send(first[50:] + second + third)

    answers = sock.answers(3)

    assert sorted(answer.qn for answer in answers) == [qn(1), qn(2), qn(3)]
    assert service.metric("garbage_bytes") == len(scan)
    service.stop()
    assert "missing_crlf" in RawFrame.objects.get(mn=specs[2].mn).detail


def test_status_and_site_information_are_stored(live, device_socket, specs):
    service = live()
    sock = device_socket(service.port)
    spec = specs[0]
    header = {"st": spec.st, "pw": spec.pw, "mn": spec.mn, "flag": 5}
    sock.send(
        encode_frame(
            cn="2021",
            qn=qn(1),
            cp=build_cp({"DataTime": T0}, {"SB1": {"RS": 1}, "SB2": {"RS": 3}}),
            **header,
        )
        + encode_frame(
            cn="3020",
            qn=qn(2),
            cp=build_cp(
                {"DataTime": T0, "PolId": "w01018"},
                {"i11001": {"Info": "//清洗管路//"}, "i13004": {"Info": "165.5"}},
            ),
            **header,
        )
    )

    assert len(sock.answers(2)) == 2
    service.stop()
    assert set(FacilityStatus.objects.values_list("code", "value")) == {("SB1", 1.0), ("SB2", 3.0)}
    assert set(SiteInfo.objects.values_list("pol_id", "info_id", "value")) == {
        ("w01018", "i11001", "清洗管路"),
        ("w01018", "i13004", "165.5"),
    }


def test_time_calibration_request_gets_9013_then_the_time(live, device_socket, specs):
    service = live()
    sock = device_socket(service.port)
    spec = specs[0]
    sock.send(encode_frame(st=spec.st, cn="1013", qn=qn(1), pw=spec.pw, mn=spec.mn, flag=5))

    notified, set_time = sock.answers(2)

    assert (notified.cn, notified.qn) == ("9013", qn(1))
    assert set_time.cn == "1012"
    assert "SystemTime" in set_time.cp.fields


def test_a_record_the_database_refuses_is_quarantined_and_not_answered(live, device_socket, specs):
    service = live()
    gone = specs[3]
    service.query(lambda: MonitoringPoint.objects.filter(mn=gone.mn).delete())
    sock = device_socket(service.port)
    # The directory still knows the deleted point: its rows fail the foreign key at commit.
    sock.send(data_frame(gone, "2011", T0, qn(1)) + data_frame(specs[0], "2011", T0, qn(2)))

    assert [answer.qn for answer in sock.answers(1, timeout=10)] == [qn(2)]
    assert sock.silent_for(0.3)
    service.stop()
    refused = RawFrame.objects.get(mn=gone.mn)
    assert (refused.verdict, refused.reason, refused.point_id) == (
        FrameVerdict.REJECTED,
        RejectReason.MALFORMED,
        None,
    )
    assert readings_of(specs[0]) == len(specs[0].factors)


@pytest.mark.parametrize("event_loop", EVENT_LOOPS)
def test_backpressure_bounds_what_is_read_and_keeps_devices_apart(
    live, device_socket, specs, event_loop
):
    """A blocked writer: the flooding device stops being read at its in-flight cap, others
    still get in until the queue bound, and nothing is read beyond that bound."""
    release = threading.Event()

    def blocked_store(batch: WriteBatch) -> BatchResult:
        assert release.wait(20)
        return store_batch(batch)

    config = ingest_config(
        listener=ListenerSettings(host="127.0.0.1", port=0, max_inflight=3),
        writer=WriterSettings(queue_size=4, batch_rows=1, batch_delay=0),
    )
    service = live(config, store=blocked_store, event_loop=event_loop)
    flood = device_socket(service.port)
    flood.send(
        b"".join(data_frame(specs[0], "2011", T0 + timedelta(seconds=i), qn(i)) for i in range(40))
    )

    def accepted() -> float:
        return service.metric("frames", source="tcp", verdict="accepted")

    # 3 in flight (1 in the writer, 2 queued), the 4th waits for one of them to be answered.
    service.wait_for(lambda: accepted() == 4)
    others = [device_socket(service.port) for _ in range(3)]
    for index, sock in enumerate(others):
        sock.send(data_frame(specs[index + 1], "2011", T0, qn(100 + index)))
    # Two more fit in the queue (4); the last of the three waits for room.
    service.wait_for(lambda: accepted() == 7)
    time.sleep(0.3)
    assert accepted() == 7
    assert service.metric("queue_depth") == 4
    release.set()

    assert len(flood.answers(40, timeout=10)) == 40
    for index, sock in enumerate(others):
        assert [answer.qn for answer in sock.answers(1)] == [qn(100 + index)]


def test_scanners_and_silent_connections_are_closed(live, device_socket, specs):
    config = ingest_config(
        listener=ListenerSettings(
            host="127.0.0.1", port=0, idle_timeout=0.3, max_rejects=3, max_garbage=1000
        )
    )
    service = live(config)
    scanner = device_socket(service.port)
    unknown = dataclasses.replace(specs[0], mn="YWSCAN")
    scanner.send(b"".join(data_frame(unknown, "2011", T0, qn(i)) for i in range(5)))
    noisy = device_socket(service.port)
    noisy.send(b"\x00" * 2000)
    silent = device_socket(service.port)
    good = device_socket(service.port)
    good.send(data_frame(specs[0], "2011", T0, qn(9)))

    assert [answer.qn for answer in good.answers(1)] == [qn(9)]
    service.wait_for(lambda: service.metric("connections_closed", reason="idle") >= 1)
    assert service.metric("connections_closed", reason="rejects") == 1
    assert service.metric("connections_closed", reason="garbage") == 1
    assert scanner.answers(1, timeout=0.5) == [] and silent.answers(1, timeout=0.5) == []


def test_a_malformed_length_field_is_quarantined_as_bad_header(live, device_socket, specs):
    service = live()
    sock = device_socket(service.port)
    sent = data_frame(specs[0], "2011", T0, qn(0))
    bad = sent[:2] + b"00zz" + sent[6:]  # the data logger writes a bad length field
    good = data_frame(specs[0], "2011", T0 + timedelta(minutes=1), qn(1))
    sock.send(bad + good)

    assert [answer.qn for answer in sock.answers(2, timeout=1)] == [qn(1)]  # none for `bad`
    service.stop()
    frames = RawFrame.objects.order_by("pk")
    assert [(bytes(f.raw), f.verdict, f.reason, f.point.mn) for f in frames] == [
        (bad, FrameVerdict.REJECTED, RejectReason.BAD_HEADER, specs[0].mn),
        (good, FrameVerdict.ACCEPTED, "", specs[0].mn),
    ]
    assert set(Reading.objects.values_list("data_time", flat=True)) == {T0 + timedelta(minutes=1)}
    assert service.metric("rejects", source="tcp", reason="bad_header") == 1
    assert service.metric("garbage_bytes") == 0


@pytest.mark.parametrize("cn", ["2051", "2061", "2031"])
def test_interval_data_is_stored_with_its_kind(live, device_socket, specs, cn):
    service = live()
    sock = device_socket(service.port)
    sock.send(data_frame(specs[0], cn, T0, qn(1)))

    assert len(sock.answers(1)) == 1
    service.stop()
    row = Reading.objects.get(point__mn=specs[0].mn, code="w01018")
    assert (row.kind, row.data_time) == (int(cn), T0)
    assert row.min is not None and row.avg is not None and row.max is not None


def test_a_retransmission_while_the_original_waits_is_not_queued_twice(live, device_socket, specs):
    entered, release = threading.Event(), threading.Event()

    def slow_store(batch: WriteBatch) -> BatchResult:
        entered.set()
        assert release.wait(10)
        return store_batch(batch)

    service = live(store=slow_store)
    sock = device_socket(service.port)
    frame = data_frame(specs[0], "2011", T0, qn(1))
    sock.send(frame)
    assert entered.wait(5)
    sock.send(frame)  # the device timed out and sends the same packet again
    service.wait_for(lambda: service.metric("retransmits_coalesced") == 1)
    release.set()

    assert [answer.qn for answer in sock.answers(2)] == [qn(1), qn(1)]
    service.stop()
    assert RawFrame.objects.count() == 1
    assert readings_of(specs[0]) == len(specs[0].factors)


def test_metrics_endpoint_serves_prometheus_text_only_on_metrics(live):
    service = live()

    text = service.scrape()

    assert "# TYPE civicloop_ingest_frames_total counter\n" in text
    assert "civicloop_ingest_queue_capacity 5000\n" in text
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"http://127.0.0.1:{service.service.metrics_port}/admin", timeout=5)
    assert error.value.code == 404


def _hold_point_lock(mn: str) -> psycopg.Connection[tuple[object, ...]]:
    """Another session holding the point's row lock, as a slow transaction would."""
    holder = psycopg.connect(AsyncPostgres.from_django().conninfo)  # the test database
    holder.execute("SELECT id FROM monitoring_monitoringpoint WHERE mn = %s FOR UPDATE", [mn])
    return holder


@pytest.mark.postgres
@pytest.mark.parametrize("connections", [2, 1])
def test_a_batch_waiting_for_the_database_does_not_hold_up_the_next(
    live, device_socket, specs, connections
):
    config = ingest_config(writer=WriterSettings(batch_delay=0.002, connections=connections))
    service = live(config)
    holder = _hold_point_lock(specs[0].mn)
    try:
        blocked, free = device_socket(service.port), device_socket(service.port)
        blocked.send(data_frame(specs[0], "2011", T0, qn(1)))
        # The first batch is taken (and stuck on the lock) before the second frame comes.
        service.wait_for(lambda: service.metric("frames", source="tcp", verdict="accepted") == 1)
        service.wait_for(lambda: service.service.sink.depth == 0)
        time.sleep(0.05)
        free.send(data_frame(specs[1], "2011", T0, qn(2)))

        answered = free.answers(1, timeout=3)

        # Two connections: the second device's batch commits on the other one. One: it
        # queues behind the batch waiting for the lock.
        assert [a.qn for a in answered] == ([qn(2)] if connections == 2 else [])
        assert blocked.silent_for(0.2)
    finally:
        holder.rollback()
        holder.close()
    assert [a.qn for a in blocked.answers(1)] == [qn(1)]
    if connections == 1:
        assert [a.qn for a in free.answers(1)] == [qn(2)]
    assert service.query(readings_of, specs[0]) == len(specs[0].factors)
    assert service.query(readings_of, specs[1]) == len(specs[1].factors)
