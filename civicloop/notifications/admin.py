"""Read-only records: what each person was told, and every email and SMS."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from civicloop.notifications.models import Delivery, Notification


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnly):
    list_display = ["created_at", "user", "title", "kind", "read_at"]
    list_filter = ["kind"]
    search_fields = ["title", "user__name", "user__mobile"]
    list_select_related = ["user"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly):
    list_display = ["at", "channel", "to", "status", "detail"]
    list_filter = ["channel", "status"]
    search_fields = ["to", "text"]
