from __future__ import annotations

from datetime import timedelta

from civicloop.lib.clock import frozen
from civicloop.monitoring.models import MonitoringPoint, PointStatus
from civicloop.monitoring.services import mark_silent_points_offline
from civicloop.monitoring.tests.conftest import T0


def test_silent_points_go_offline(make_point):
    make_point(mn="RECENT", last_seen_at=T0 - timedelta(minutes=29))
    make_point(mn="SILENT", last_seen_at=T0 - timedelta(minutes=31))
    make_point(mn="NEVER")
    make_point(mn="DISABLED", status=PointStatus.DISABLED, last_seen_at=T0 - timedelta(days=9))

    with frozen(T0):
        assert mark_silent_points_offline() == 2

    assert dict(MonitoringPoint.objects.values_list("mn", "status")) == {
        "RECENT": "active",
        "SILENT": "offline",
        "NEVER": "offline",
        "DISABLED": "disabled",
    }
