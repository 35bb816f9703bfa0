from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection

from civicloop.monitoring.models import MonitoringPoint, PointKind

# 2024-05-01 08:00 in Shanghai: a fixed, hour-aligned instant for the tests.
T0 = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def make_point(db: None) -> Callable[..., MonitoringPoint]:
    def make(**fields: Any) -> MonitoringPoint:
        defaults: dict[str, Any] = {
            "mn": f"010000A8900016F0001{MonitoringPoint.objects.count():05d}",
            "password": "123456",
            "name": "义乌某污水处理厂总排口",
            "system_code": "32",
            "kind": PointKind.WASTEWATER_OUTLET,
        }
        return MonitoringPoint.objects.create(**(defaults | fields))

    return make


@pytest.fixture
def point(make_point: Callable[..., MonitoringPoint]) -> MonitoringPoint:
    return make_point(mn="010000A8900016F000169DC0")
