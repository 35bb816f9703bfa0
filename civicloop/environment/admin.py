"""Administration: the permit register, the standards library (administrators add local and
product standards here), enforcement teams, data-sharing grants; alerts and AQI read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from civicloop.environment.models import (
    Alert,
    DataShareGrant,
    EnforcementTeam,
    Enterprise,
    MonitoringRequirement,
    Outlet,
    Permit,
    PermitLimit,
    Pollutant,
    SpecialPeriodLimit,
    Standard,
    StandardEdition,
    StandardLimit,
    StationAqi,
)


class OutletInline(admin.TabularInline):
    model = Outlet
    extra = 0
    fields = ["code", "name", "outlet_class", "discharge_mode", "monitoring_point", "is_active"]
    raw_id_fields = ["monitoring_point"]
    show_change_link = True


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    list_display = ["name", "uscc", "town", "industry_name", "management_category", "is_active"]
    list_filter = ["management_category", "is_active", "town"]
    search_fields = ["name", "uscc"]
    raw_id_fields = ["town", "village", "environmental_officer", "organisation"]
    inlines = [OutletInline]


class PermitLimitInline(admin.TabularInline):
    model = PermitLimit
    extra = 0
    fields = [
        "outlet",
        "pollutant",
        "hourly_limit",
        "daily_limit",
        "low_limit",
        "promised_limit",
        "unit",
        "standard",
        "standard_grade",
        "is_main",
    ]


class MonitoringRequirementInline(admin.TabularInline):
    model = MonitoringRequirement
    extra = 0


@admin.register(Permit)
class PermitAdmin(admin.ModelAdmin):
    list_display = ["number", "version", "enterprise", "valid_from", "valid_to", "authority"]
    search_fields = ["number", "enterprise__name"]
    raw_id_fields = ["enterprise"]
    readonly_fields = ["copy_file"]
    inlines = [PermitLimitInline, MonitoringRequirementInline]


@admin.register(Outlet)
class OutletAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "enterprise", "medium", "outlet_class", "monitoring_point"]
    list_filter = ["medium", "outlet_class", "is_active"]
    search_fields = ["code", "name", "enterprise__name", "monitoring_point__mn"]
    raw_id_fields = ["enterprise", "monitoring_point"]
    readonly_fields = ["medium", "qr_version"]


@admin.register(SpecialPeriodLimit)
class SpecialPeriodLimitAdmin(admin.ModelAdmin):
    list_display = ["limit", "name", "starts_on", "ends_on", "concentration_limit"]
    raw_id_fields = ["limit"]


@admin.register(Pollutant)
class PollutantAdmin(admin.ModelAdmin):
    list_display = ["code", "legacy_code", "name", "medium", "unit"]
    search_fields = ["code", "name"]


class StandardEditionInline(admin.TabularInline):
    model = StandardEdition
    extra = 0
    fields = ["edition", "title", "issued_on", "effective_from", "effective_to", "source"]
    show_change_link = True


@admin.register(Standard)
class StandardAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "kind", "medium", "is_builtin"]
    list_filter = ["kind", "medium", "is_builtin"]
    search_fields = ["number", "name"]
    inlines = [StandardEditionInline]


class StandardLimitInline(admin.TabularInline):
    model = StandardLimit
    extra = 0
    fields = [
        "table",
        "pollutant_name",
        "pollutant",
        "applicability",
        "is_default",
        "grade",
        "period",
        "low",
        "high",
        "not_detectable",
        "unit",
        "reference_o2",
        "built_before",
        "built_from",
        "valid_from",
        "valid_to",
    ]


@admin.register(StandardEdition)
class StandardEditionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "title", "effective_from", "effective_to", "is_builtin"]
    list_filter = ["standard"]
    # Built-in editions are rewritten from data/standards.json by the loader: change the
    # fixture for those; local and product standards are edited here.
    readonly_fields = ["is_builtin"]
    inlines = [StandardLimitInline]


@admin.register(EnforcementTeam)
class EnforcementTeamAdmin(admin.ModelAdmin):
    list_display = ["region", "organisation", "is_active"]
    raw_id_fields = ["region", "organisation"]


@admin.register(DataShareGrant)
class DataShareGrantAdmin(admin.ModelAdmin):
    list_display = ["organisation", "region", "purpose", "is_active", "created_at"]
    raw_id_fields = ["region", "organisation"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Alerts and AQI are written by the sweep only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = [
        "outlet",
        "kind",
        "pollutant_name",
        "status",
        "first_start",
        "last_end",
        "worst_value",
        "case",
    ]
    list_filter = ["kind", "status", "is_persistent"]
    search_fields = ["outlet__enterprise__name", "outlet__code", "case__number"]


@admin.register(StationAqi)
class StationAqiAdmin(ReadOnlyAdmin):
    list_display = ["point", "period", "start", "edition", "aqi", "level", "publishable"]
    list_filter = ["period", "edition"]
    show_full_result_count = False
