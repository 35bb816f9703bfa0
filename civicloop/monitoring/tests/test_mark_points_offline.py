from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from civicloop.lib.clock import frozen
from civicloop.monitoring.models import MonitoringPoint
from civicloop.monitoring.tests.conftest import T0


def test_one_pass_marks_the_silent_points_offline(make_point):
    make_point(mn="HUAXIN", last_seen_at=T0 - timedelta(minutes=9))  # 华欣纺织: sending
    make_point(mn="JINLONG", last_seen_at=T0 - timedelta(minutes=11))  # 金龙电镀: silent
    out = StringIO()

    with frozen(T0):
        call_command("mark_points_offline", "--silent-minutes", "10", stdout=out)

    assert out.getvalue() == "1 个监测点标为离线\n"
    assert dict(MonitoringPoint.objects.values_list("mn", "status")) == {
        "HUAXIN": "active",
        "JINLONG": "offline",
    }


def test_silent_minutes_must_be_above_zero(db):
    with pytest.raises(CommandError, match="需要大于 0 的分钟数，收到 '0'"):
        call_command("mark_points_offline", "--silent-minutes", "0", stdout=StringIO())
