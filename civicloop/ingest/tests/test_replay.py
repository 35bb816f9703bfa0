"""`civicloop hj212 replay`: quarantined frames become data once their device is registered."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from civicloop.ingest import replay as replay_module
from civicloop.ingest.demo import register_points
from civicloop.ingest.simulator import DeviceSpec, data_frame, factor_value
from civicloop.ingest.tests.conftest import T0
from civicloop.monitoring.models import (
    FrameVerdict,
    MonitoringPoint,
    RawFrame,
    Reading,
    RejectReason,
)

TIMES = [T0 + timedelta(minutes=minute) for minute in range(3)]


def replay(*args: str) -> list[str]:
    out = StringIO()
    call_command("hj212", "replay", *args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()


def quarantine(live, device_socket, spec: DeviceSpec) -> list[int]:
    """Send three uploads of `spec` to a live listener; return their raw frame ids."""
    service = live()
    sock = device_socket(service.port)
    sock.send(
        b"".join(data_frame(spec, "2011", t, f"2024050108000{i}") for i, t in enumerate(TIMES))
    )
    service.wait_for(lambda: service.query(RawFrame.objects.filter(mn=spec.mn).count) == 3)
    service.stop()
    return list(RawFrame.objects.filter(mn=spec.mn).order_by("pk").values_list("pk", flat=True))


@pytest.fixture
def late(specs) -> DeviceSpec:
    """鸿达印染: its data logger was switched on before the point was registered."""
    return dataclasses.replace(specs[0], mn="YWLATE000001")


def test_quarantined_frames_are_stored_once_the_point_is_registered(
    live, device_socket, late, monkeypatch
):
    monkeypatch.setattr(replay_module, "_CHUNK", 2)  # two chunks of frames, oldest first
    ids = quarantine(live, device_socket, late)
    assert set(RawFrame.objects.values_list("reason", flat=True)) == {RejectReason.UNKNOWN_MN}
    register_points([late])
    factors = len(late.factors)

    lines = replay("--mn", late.mn, "--reason", "unknown_mn")

    assert lines == [
        *(
            f"#{pk} {late.mn} 2011：unknown_mn → 接收，数据 {factors} 条，新写入 {factors} 条"
            for pk in ids
        ),
        f"重放 3 个报文：接收 3 个，新写入数据 {3 * factors} 条，仍拒绝 0 个",
    ]
    point = MonitoringPoint.objects.get(mn=late.mn)
    stored = {(r.code, r.data_time, r.rtd) for r in Reading.objects.filter(point=point)}
    assert stored == {
        (code, t, factor_value(late.mn, code, t, low, high))
        for t in TIMES
        for code, low, high in late.factors
    }
    assert Reading.objects.filter(point=point).count() == 3 * factors  # exactly once
    assert RawFrame.objects.count() == 3  # updated in place, not appended
    frames = RawFrame.objects.filter(pk__in=ids)
    assert {(f.verdict, f.reason, f.point_id) for f in frames} == {("accepted", "", point.pk)}
    assert all(f.detail.startswith("replayed ") and ", was unknown_mn" in f.detail for f in frames)
    assert point.last_data_time == TIMES[-1]
    assert point.last_seen_at is None  # an old frame replayed does not say the device is online


def test_a_second_replay_stores_nothing_new(live, device_socket, late):
    quarantine(live, device_socket, late)
    register_points([late])
    replay("--mn", late.mn)
    readings = Reading.objects.count()

    assert replay("--mn", late.mn) == ["重放 0 个报文：接收 0 个，新写入数据 0 条，仍拒绝 0 个"]
    lines = replay("--mn", late.mn, "--verdict", "accepted")

    assert lines[-1] == "重放 3 个报文：接收 3 个，新写入数据 0 条，仍拒绝 0 个"
    assert Reading.objects.count() == readings
    assert RawFrame.objects.count() == 3


def test_a_still_unknown_mn_stays_rejected_and_nothing_is_written(live, device_socket, late):
    ids = quarantine(live, device_socket, late)
    frames = RawFrame.objects.order_by("pk").values_list("verdict", "reason", "detail")
    before = list(frames)

    lines = replay("--mn", late.mn)

    assert lines == [
        *(f"#{pk} {late.mn} 2011：unknown_mn → 仍拒绝（unknown_mn）" for pk in ids),
        "重放 3 个报文：接收 0 个，新写入数据 0 条，仍拒绝 3 个（unknown_mn 3）",
    ]
    assert Reading.objects.count() == 0
    assert (
        list(RawFrame.objects.order_by("pk").values_list("verdict", "reason", "detail")) == before
    )


def test_dry_run_says_what_would_happen_and_writes_nothing(live, device_socket, late):
    ids = quarantine(live, device_socket, late)
    register_points([late])
    factors = len(late.factors)

    lines = replay("--id", str(ids[0]), "--id", str(ids[2]), "--dry-run")

    assert lines == [
        f"#{ids[0]} {late.mn} 2011：unknown_mn → 将接收，数据 {factors} 条",
        f"#{ids[2]} {late.mn} 2011：unknown_mn → 将接收，数据 {factors} 条",
        "试运行，未写入：重放 2 个报文，将接收 2 个，仍拒绝 0 个",
    ]
    assert Reading.objects.count() == 0
    assert set(RawFrame.objects.values_list("verdict", flat=True)) == {FrameVerdict.REJECTED}


def test_a_wrong_password_stays_rejected_after_the_point_is_registered(live, device_socket, late):
    quarantine(live, device_socket, late)
    register_points([dataclasses.replace(late, pw="654321")])

    lines = replay("--since", "2000-01-01", "--until", "2999-01-01")

    assert lines[-1] == "重放 3 个报文：接收 0 个，新写入数据 0 条，仍拒绝 3 个（bad_password 3）"
    assert Reading.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2024-05-02", "--until", "2024-05-01"], "--since 必须早于 --until"),
        (["--since", "昨天"], "--since 不是有效的日期或时间：'昨天'"),
        (["--verdict", "accepted", "--reason", "unknown_mn"], "--reason 只适用于被拒绝的报文"),
        (["--reason", "no_such_reason"], "invalid choice: 'no_such_reason'"),
        (["--id", "0"], "需要不小于 1 的整数"),
    ],
)
def test_bad_options_are_refused(transactional_db, args, message):
    with pytest.raises(CommandError, match=message):
        replay(*args)
