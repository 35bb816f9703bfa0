"""Administrators edit the classification; cases change only through the services, so the
case pages here are read-only records."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from civicloop.cases.models import Case, CaseEvent, Category, Photo


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["full_code", "name", "kind", "parent", "limit_normal", "limit_normal_unit", "limit_urgent", "limit_urgent_unit", "default_owner", "is_active"]
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


class EventInline(ReadOnlyInline):
    model = CaseEvent
    fields = ["seq", "type", "at", "actor", "actor_role", "actor_org", "from_state", "to_state", "reason", "note", "is_public"]
    readonly_fields = fields


class PhotoInline(ReadOnlyInline):
    model = Photo
    fields = ["kind", "public", "width", "height", "taken_at", "gps_lat", "gps_lon", "uploaded_by"]
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["number", "state", "category", "source", "urgency", "town", "assigned_org", "reported_at", "due_at"]
    list_filter = ["state", "source", "urgency", "category__kind", "town"]
    search_fields = ["number", "description", "address"]
    date_hierarchy = "reported_at"
    inlines = [EventInline, PhotoInline]
    list_select_related = ["category__parent", "town", "assigned_org"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Case._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
