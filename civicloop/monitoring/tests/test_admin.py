from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from civicloop.monitoring.models import (
    FacilityStatus,
    MonitoringPoint,
    RawFrame,
    Reading,
    SiteInfo,
)

READ_ONLY = [Reading, RawFrame, FacilityStatus, SiteInfo]


@pytest.mark.parametrize("model", [MonitoringPoint, *READ_ONLY])
def test_admin_is_registered_and_passes_its_checks(model):
    assert admin.site._registry[model].check() == []


@pytest.mark.parametrize("model", READ_ONLY)
def test_stored_data_is_read_only_in_the_admin(model):
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_points_are_searchable_by_mn_and_name():
    assert admin.site._registry[MonitoringPoint].search_fields == ["mn", "name"]


def test_raw_frame_admin_shows_the_packet_as_text():
    frame = RawFrame(raw=b"##0010QN=1;\xe6\xb8\x85\xff\r\n")

    assert admin.site._registry[RawFrame].text(frame) == "##0010QN=1;清\\xff\r\n"
