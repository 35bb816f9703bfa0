"""The running service marks silent points offline; a point that sends again is active."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from civicloop.ingest.simulator import data_frame
from civicloop.ingest.tests.conftest import T0, ingest_config
from civicloop.monitoring.models import MonitoringPoint


def statuses() -> dict[str, str]:
    return dict(MonitoringPoint.objects.values_list("mn", "status"))


def test_the_service_sweeps_silent_points_offline_and_data_brings_them_back(
    live, device_socket, specs
):
    quiet, *talking = specs  # 丰华化工: silent for 31 minutes; the others for 29
    now = timezone.now()
    MonitoringPoint.objects.filter(mn=quiet.mn).update(last_seen_at=now - timedelta(minutes=31))
    MonitoringPoint.objects.exclude(mn=quiet.mn).update(last_seen_at=now - timedelta(minutes=29))
    service = live(ingest_config(offline_check=0.05))

    service.wait_for(lambda: service.query(statuses)[quiet.mn] == "offline")
    assert service.query(statuses) == {
        quiet.mn: "offline",
        **{spec.mn: "active" for spec in talking},
    }

    sock = device_socket(service.port)
    sock.send(data_frame(quiet, "2011", T0, "20240501080000001"))
    assert [answer.cn for answer in sock.answers(1)] == ["9014"]
    time.sleep(0.3)  # several sweeps later, it has been seen: it stays active
    assert service.query(statuses)[quiet.mn] == "active"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--offline-after", "0", "需要大于 0 的分钟数，收到 '0'"),
        ("--offline-check", "-1", "需要不小于 0 的秒数，收到 '-1'"),
    ],
)
def test_ingest_refuses_bad_offline_options(option, value, message):
    with pytest.raises(CommandError, match=message):
        call_command("ingest", option, value, stdout=StringIO(), stderr=StringIO())
