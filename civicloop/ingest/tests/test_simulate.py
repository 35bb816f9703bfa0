"""`civicloop hj212 simulate` and the demo points, against a live service."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from civicloop.ingest.demo import DEMO_DEVICES, register_demo_points
from civicloop.ingest.hj212 import (
    CrcVariant,
    Deframer,
    answer_for,
    build_request_answer,
    decode,
)
from civicloop.ingest.simulator import (
    DeviceKind,
    Fault,
    _data_answer_qn,
    _number,
    data_frame,
    data_frame_generic,
    make_specs,
    parse_rate,
    with_bad_crc,
)
from civicloop.ingest.tests.conftest import T0
from civicloop.monitoring.models import MonitoringPoint, PointKind, Reading


def simulate(*args: str) -> str:
    out = io.StringIO()
    call_command("hj212", "simulate", *args, stdout=out)
    return out.getvalue()


def test_simulate_registers_devices_injects_faults_and_counts_acks(live):
    service = live()

    output = simulate(
        "--devices", "8", "--rate", "20", "--count", "12", "--port", str(service.port),
        "--register", "--faults", ",".join(Fault), "--fault-rate", "0.4",
        "--seed", "3", "--json", "--no-progress",
    )  # fmt: skip

    summary = json.loads(output)
    assert (summary["sent"], summary["acked"]) == (96, 96)
    assert set(summary["faults"]) == {fault.value for fault in Fault}
    assert summary["ack_latency_ms"]["count"] == 96
    service.stop()
    points = MonitoringPoint.objects.filter(mn__startswith="YWSIM")
    assert sorted(points.values_list("protocol_edition", flat=True)) == ["2005"] * 4 + ["2017"] * 4
    specs = make_specs(8)
    assert Reading.objects.count() == sum(len(spec.factors) for spec in specs) * 12
    duplicates = Reading.objects.values("point", "kind", "code", "data_time")
    assert not duplicates.annotate(n=Count("id")).filter(n__gt=1).exists()


def test_simulate_needs_a_limit_and_known_faults():
    with pytest.raises(CommandError, match="--duration"):
        simulate("--devices", "1")
    with pytest.raises(CommandError, match="unknown fault"):
        simulate("--devices", "1", "--count", "1", "--faults", "meteor")


def test_rates():
    assert parse_rate("2") == 2.0
    assert parse_rate("1/30") == pytest.approx(1 / 30)
    with pytest.raises(ValueError):
        parse_rate("0")


def test_specs_mix_editions_and_kinds():
    specs = make_specs(4, prefix="YW")
    assert [(spec.edition.value, spec.kind) for spec in specs] == [
        ("2017", DeviceKind.WASTEWATER),
        ("2017", DeviceKind.AIR),
        ("2005", DeviceKind.WASTEWATER),
        ("2005", DeviceKind.AIR),
    ]
    assert all(len(spec.mn) == 24 for spec in specs)


@pytest.mark.parametrize("spec", make_specs(4))
def test_device_frames_decode_and_bad_crc_copies_do_not(spec):
    frame = data_frame(spec, "2011", T0, "20240501080000001")
    [decoded] = decode(frame)
    [broken] = decode(with_bad_crc(frame))

    assert decoded.ok and decoded.mn == spec.mn and decoded.data_time == T0
    assert decoded.message is not None and decoded.message.is_ack_requested
    assert decoded.edition == spec.edition
    assert broken.error == "crc_mismatch"


@pytest.mark.parametrize("cn", ["2011", "2051", "2061", "2031"])
@pytest.mark.parametrize("ack", [True, False])
def test_the_frame_template_sends_what_the_general_builder_sends(cn, ack):
    specs = make_specs(4) + [
        dataclasses.replace(spec, mn=f"YWMODBUS{index}", crc=variant)
        for index, spec in enumerate(make_specs(4))
        for variant in (CrcVariant.MODBUS, CrcVariant.MODBUS_SWAPPED)
    ]
    for spec in specs:
        for step in range(30):  # values across the sine wave and the hash
            at = T0 + timedelta(seconds=977 * step)
            qn = f"20240501080000{step:03d}"
            frame = data_frame(spec, cn, at, qn, ack=ack)
            assert frame == data_frame_generic(spec, cn, at, qn, ack=ack)
    assert _number(1e-05) == "0.00001"  # never an exponent
    assert _number(12.5) == "12.5"


@pytest.mark.parametrize("spec", make_specs(4))
def test_the_answer_qn_is_read_without_a_full_parse(spec):
    upload = decode(data_frame(spec, "2011", T0, "20240501080000042"))[0]
    [answer] = Deframer().feed(answer_for(upload) or b"")
    assert _data_answer_qn(answer) == "20240501080000042"
    # Anything but a well-formed 9014 goes to the full decoder.
    [request] = Deframer().feed(
        build_request_answer(qn="20240501080000043", pw="1", mn=spec.mn, edition=spec.edition)
    )
    assert _data_answer_qn(request) is None
    [broken] = Deframer().feed(with_bad_crc(answer_for(upload) or b""))
    assert _data_answer_qn(broken) is None


def test_demo_points_are_registered_once(transactional_db):
    register_demo_points()
    register_demo_points()

    points = MonitoringPoint.objects.filter(mn__in=[spec.mn for spec in DEMO_DEVICES])
    assert points.count() == len(DEMO_DEVICES)
    assert points.get(mn=DEMO_DEVICES[0].mn).kind == PointKind.WASTEWATER_OUTLET
    assert "浪莎" in points.get(mn=DEMO_DEVICES[0].mn).name
