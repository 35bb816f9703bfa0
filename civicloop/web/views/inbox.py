"""The in-app inbox: messages about the cases that concern the user, the unread count live."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from civicloop.lib.errors import NotFound
from civicloop.notifications.selectors import get_notification_for_user, inbox_for, unread_count
from civicloop.notifications.services import (
    notification_mark_read,
    notifications_mark_all_read,
)
from civicloop.web.views.common import page_of, user_of


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    page = page_of(request, inbox_for(user))
    return render(request, "web/inbox.html", {"page": page, "unread": unread_count(user)})


@login_required
@require_GET
def count(request: HttpRequest) -> HttpResponse:
    """The unread count for the navigation badge, polled by htmx."""
    return render(request, "web/inbox.html#count", {"unread": unread_count(user_of(request))})


@login_required
@require_POST
def read(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a message: it is read, and the user goes to its case."""
    user = user_of(request)
    try:
        notification = get_notification_for_user(user, pk)
    except NotFound as e:
        raise Http404 from e
    notification_mark_read(notification=notification, by=user)
    if notification.case is not None:
        return redirect("web:case", notification.case.number)
    return redirect("web:inbox")


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    notifications_mark_all_read(by=user_of(request))
    return redirect(reverse("web:inbox"))
