"""The inbox API. No `from __future__ import annotations`: ninja reads annotations at runtime."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from civicloop.accounts.models import User
from civicloop.notifications import selectors, services
from civicloop.notifications.models import Notification

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    case: str | None
    created_at: datetime
    read_at: datetime | None

    @staticmethod
    def resolve_case(obj: Notification) -> str | None:
        return obj.case.number if obj.case else None


class InboxFilters(Schema):
    unread: bool | None = None


class CountOut(Schema):
    unread: int


class MarkedOut(Schema):
    marked: int


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _out(row: Notification) -> NotificationOut:
    return NotificationOut.from_orm(row)


@router.get("/notifications", response=list[NotificationOut])
@paginate(LimitOffsetPagination)
def inbox(request: HttpRequest, filters: Query[InboxFilters]) -> list[NotificationOut]:
    # The paginator slices the queryset; only the page is loaded.
    return selectors.inbox_for(_user(request), unread=filters.unread)  # type: ignore[return-value]


@router.get("/notifications/unread-count", response=CountOut)
def unread(request: HttpRequest) -> CountOut:
    return CountOut(unread=selectors.unread_count(_user(request)))


@router.post("/notifications/read-all", response=MarkedOut)
def read_all(request: HttpRequest) -> MarkedOut:
    return MarkedOut(marked=services.notifications_mark_all_read(by=_user(request)))


@router.post("/notifications/{notification_id}/read", response=NotificationOut)
def read_one(request: HttpRequest, notification_id: int) -> NotificationOut:
    user = _user(request)
    notification = selectors.get_notification_for_user(user, notification_id)
    return _out(services.notification_mark_read(notification=notification, by=user))
