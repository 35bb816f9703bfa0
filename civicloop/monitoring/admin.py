from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from civicloop.monitoring.models import (
    FacilityStatus,
    MonitoringPoint,
    RawFrame,
    Reading,
    SiteInfo,
)


@admin.register(MonitoringPoint)
class MonitoringPointAdmin(admin.ModelAdmin):
    list_display = [
        "mn",
        "name",
        "kind",
        "system_code",
        "status",
        "protocol_edition",
        "crc_variant",
        "last_seen_at",
    ]
    list_filter = ["kind", "status", "protocol_edition", "crc_variant"]
    search_fields = ["mn", "name"]
    raw_id_fields = ["region"]
    readonly_fields = ["protocol_edition", "last_seen_at", "last_data_time"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Stored device data is evidence: it is viewed, never edited or deleted by hand."""

    # Large tables: no COUNT(*) over the whole table on every page.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Reading)
class ReadingAdmin(ReadOnlyAdmin):
    list_display = [
        "point",
        "kind",
        "code",
        "data_time",
        "rtd",
        "avg",
        "min",
        "max",
        "cou",
        "flag",
        "source",
    ]
    # The point filter lists points (a small table), never DISTINCT over readings.
    list_filter = ["kind", "source", ("data_time", admin.DateFieldListFilter), "point"]
    search_fields = ["=code", "=point__mn"]
    list_select_related = ["point"]


@admin.register(RawFrame)
class RawFrameAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "mn", "cn", "verdict", "reason", "peer", "point"]
    list_filter = ["verdict", "reason", "cn", ("received_at", admin.DateFieldListFilter)]
    search_fields = ["=mn", "peer"]
    list_select_related = ["point"]
    exclude = ["raw"]
    readonly_fields = ["text"]

    @admin.display(description=_("原始报文"))
    def text(self, frame: RawFrame) -> str:
        return bytes(frame.raw).decode("utf-8", errors="backslashreplace")


@admin.register(FacilityStatus)
class FacilityStatusAdmin(ReadOnlyAdmin):
    list_display = ["point", "kind", "code", "data_time", "value"]
    list_filter = ["kind", ("data_time", admin.DateFieldListFilter), "point"]
    search_fields = ["=code", "=point__mn"]
    list_select_related = ["point"]


@admin.register(SiteInfo)
class SiteInfoAdmin(ReadOnlyAdmin):
    list_display = ["point", "info_id", "pol_id", "data_time", "value"]
    list_filter = [("data_time", admin.DateFieldListFilter), "point"]
    search_fields = ["=info_id", "=point__mn"]
    list_select_related = ["point"]
