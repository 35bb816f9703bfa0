"""Template filters for the pages: presentation only."""

from __future__ import annotations

from typing import Any

from django import template
from django.forms import BoundField
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from civicloop.accounts.models import User
from civicloop.cases.models import Case, State
from civicloop.notifications.selectors import unread_count
from civicloop.web import display
from civicloop.web.access import Workspace, workspaces_for

register = template.Library()


@register.filter
def tone(state: str) -> str:
    return display.tone(state)


@register.filter
def deadline(case: Case) -> display.Deadline | None:
    return display.deadline(case)


@register.filter
def widget(field: BoundField) -> SafeString:
    """The field's input, tied to its error message for screen readers."""
    attrs: dict[str, Any] = {}
    if field.errors:
        attrs = {"aria-invalid": "true", "aria-describedby": f"{field.auto_id}_error"}
    return field.as_widget(attrs=attrs)


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """`mapping[key]` or None; also None when the page has no such mapping."""
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.simple_tag
def nav_items(request: HttpRequest) -> list[tuple[Workspace, bool]]:
    """The user's workspaces for the navigation, and which one the page belongs to."""
    user = request.user
    if not isinstance(user, User):
        return []
    spaces = workspaces_for(user)
    return [(space, request.path.startswith(space.url)) for space in spaces]


@register.filter
def state_label(state: str) -> str:
    return str(State(state).label) if state in State.values else state


@register.simple_tag
def unread_badge(request: HttpRequest) -> SafeString:
    """The unread count as first rendered; htmx keeps it fresh (web:inbox-count)."""
    user = request.user
    if not isinstance(user, User):
        return SafeString("")
    return SafeString(
        render_to_string("web/inbox.html#count", {"unread": unread_count(user)}, request)
    )
