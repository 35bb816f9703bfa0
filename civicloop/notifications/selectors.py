"""A person's own inbox; nobody reads anyone else's."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from civicloop.accounts.models import User
from civicloop.lib.errors import NotFound
from civicloop.notifications.models import Notification


def inbox_for(user: User, *, unread: bool | None = None) -> QuerySet[Notification]:
    if not user.is_authenticated:
        return Notification.objects.none()
    rows = Notification.objects.filter(user=user).select_related("case")
    if unread is not None:
        rows = rows.filter(read_at__isnull=unread)
    return rows.order_by("-created_at", "-id")


def unread_count(user: User) -> int:
    return inbox_for(user, unread=True).count()


def get_notification_for_user(user: User, pk: int) -> Notification:
    notification = inbox_for(user).filter(pk=pk).first()
    if notification is None:
        raise NotFound("notification_not_found", _("消息不存在"))
    return notification
