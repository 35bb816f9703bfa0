"""Administrators edit the classification, the working calendar and the time limits; cases
change only through the services, so the case pages here are read-only records."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from civicloop.cases.models import (
    Case,
    CaseAssist,
    CaseClock,
    CaseCycle,
    CaseEvent,
    Category,
    Dispatch,
    Photo,
    RoutingRule,
    Supervision,
    TimeLimit,
    TimeLimitVersion,
    WorkCalendarDay,
    WorkingPeriod,
)
from civicloop.cases.timelimits import time_limit_version_create
from civicloop.cases.workdays import (
    calendar_day_set,
    working_period_save,
    working_periods_check,
    working_periods_with,
)
from civicloop.lib import clock
from civicloop.lib.errors import DomainError


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "full_code",
        "name",
        "kind",
        "parent",
        "limit_normal",
        "limit_normal_unit",
        "limit_urgent",
        "limit_urgent_unit",
        "default_owner",
        "duplicate_radius_m",
        "is_active",
    ]
    list_filter = ["kind", "is_active", "parent"]
    search_fields = ["full_code", "name", "pinyin", "keywords"]
    list_editable = ["is_active"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


EVENT_FIELDS = (
    "seq",
    "type",
    "at",
    "actor",
    "actor_role",
    "actor_org",
    "from_state",
    "to_state",
    "reason",
    "note",
    "is_public",
)
PHOTO_FIELDS = (
    "kind",
    "public",
    "width",
    "height",
    "taken_at",
    "gps_lat",
    "gps_lon",
    "uploaded_by",
)
CLOCK_FIELDS = ("stage", "started_at", "due_at", "level", "paused_at", "stopped_at", "on_time")
SUPERVISION_FIELDS = ("kind", "issued_by", "issued_at", "due_at", "note", "lifted_at")
DISPATCH_FIELDS = ("organisation", "by", "at", "is_auto", "suggested", "outcome", "outcome_at")
ASSIST_FIELDS = ("organisation", "added_by", "added_at", "ended_at", "note")
CYCLE_FIELDS = (
    "cycle",
    "assigned_org",
    "filed_at",
    "due_at",
    "disposed_at",
    "closed_at",
    "on_time",
    "rework_count",
    "closure_reason",
    "satisfaction",
    "reopened_at",
)


class EventInline(ReadOnlyInline):
    model = CaseEvent
    fields = EVENT_FIELDS
    readonly_fields = EVENT_FIELDS


class PhotoInline(ReadOnlyInline):
    model = Photo
    fields = PHOTO_FIELDS
    readonly_fields = PHOTO_FIELDS


class ClockInline(ReadOnlyInline):
    model = CaseClock
    fields = CLOCK_FIELDS
    readonly_fields = CLOCK_FIELDS


class SupervisionInline(ReadOnlyInline):
    model = Supervision
    fields = SUPERVISION_FIELDS
    readonly_fields = SUPERVISION_FIELDS


class DispatchInline(ReadOnlyInline):
    model = Dispatch
    fields = DISPATCH_FIELDS
    readonly_fields = DISPATCH_FIELDS


class AssistInline(ReadOnlyInline):
    model = CaseAssist
    fields = ASSIST_FIELDS
    readonly_fields = ASSIST_FIELDS


class CycleInline(ReadOnlyInline):
    model = CaseCycle
    fields = CYCLE_FIELDS
    readonly_fields = CYCLE_FIELDS


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "state",
        "category",
        "source",
        "urgency",
        "town",
        "assigned_org",
        "reported_at",
        "due_at",
        "sla_level",
        "supervision",
    ]
    list_filter = [
        "state",
        "source",
        "urgency",
        "sla_level",
        "supervision",
        "category__kind",
        "town",
    ]
    search_fields = ["number", "description", "address"]
    date_hierarchy = "reported_at"
    inlines = [
        EventInline,
        ClockInline,
        CycleInline,
        DispatchInline,
        AssistInline,
        SupervisionInline,
        PhotoInline,
    ]
    list_select_related = ["category__parent", "town", "assigned_org"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Case._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# ---------------------------------------------------------------- deadlines


@admin.register(WorkCalendarDay)
class WorkCalendarDayAdmin(admin.ModelAdmin):
    list_display = ["day", "is_working", "name", "source"]
    list_filter = ["is_working", "source"]
    date_hierarchy = "day"
    fields = ["day", "is_working", "name"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = calendar_day_set(day=obj.day, is_working=obj.is_working, name=obj.name)
        obj.pk = saved.pk


class WorkingPeriodForm(forms.ModelForm):
    class Meta:
        model = WorkingPeriod
        fields = ["start", "end"]

    def clean(self) -> dict[str, Any]:
        """The day's periods with this one must stay ordered and apart (checked again, under
        the configuration's lock, when it is saved)."""
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is not None and end is not None:
            candidate = WorkingPeriod(pk=self.instance.pk, start=start, end=end)
            try:
                working_periods_check(working_periods_with(candidate))
            except DomainError as e:
                raise forms.ValidationError(e.message, code=e.code) from e
        return cleaned


@admin.register(WorkingPeriod)
class WorkingPeriodAdmin(admin.ModelAdmin):
    form = WorkingPeriodForm
    list_display = ["start", "end"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        working_period_save(period=obj)


class TimeLimitInline(admin.TabularInline):
    model = TimeLimit
    extra = 0
    fields = ["stage", "category", "urgency", "region", "value", "unit"]
    autocomplete_fields = ["category"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _editable(obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _editable(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _editable(obj)


def _editable(version: TimeLimitVersion | None) -> bool:
    """A version may be edited until it takes effect; afterwards cases depend on it."""
    return version is None or version.effective_from > clock.now()


@admin.register(TimeLimitVersion)
class TimeLimitVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "effective_from", "warn_percent", "serious_percent"]
    inlines = [TimeLimitInline]
    actions = ["copy_as_draft"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and _editable(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and _editable(obj)

    @admin.action(description=_("复制为新版本（次日生效，可修改）"))
    def copy_as_draft(self, request: HttpRequest, queryset: QuerySet[TimeLimitVersion]) -> None:
        from datetime import timedelta

        for version in queryset:
            copy = time_limit_version_create(
                name=f"{version.name}（修订）",
                effective_from=clock.now() + timedelta(days=1),
                copy_from=version,
                snapshot_categories=False,
                warn_percent=version.warn_percent,
                serious_percent=version.serious_percent,
                pause_while_returned=version.pause_while_returned,
            )
            self.message_user(request, _("已创建 %s") % copy.name, messages.SUCCESS)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = [
        "kind",
        "category",
        "region",
        "organisation",
        "auto_dispatch",
        "priority",
        "is_active",
    ]
    list_filter = ["kind", "auto_dispatch", "is_active", "region"]
    search_fields = ["category__name", "category__full_code", "organisation__name", "note"]
    list_select_related = ["category__parent", "region", "organisation"]
    autocomplete_fields = ["category"]
