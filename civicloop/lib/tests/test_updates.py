"""`lib.updates.update_returning` leaves the instance as `update()` + `refresh_from_db()` would,
in one statement. On Django's own models, so that `lib` stays free of the apps."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F, Model
from django.test.utils import CaptureQueriesContext

from civicloop.lib.updates import update_returning

pytestmark = pytest.mark.django_db
User = get_user_model()


def _row(obj: Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _entry() -> LogEntry:
    user = User.objects.create(mobile="13800000001", name="王芳")
    return LogEntry.objects.create(
        user=user, action_flag=ADDITION, object_repr="桥头", change_message="[]"
    )


def test_the_instance_takes_the_row_as_the_database_wrote_it_in_one_statement() -> None:
    entry = _entry()
    rows = LogEntry.objects.filter(pk=entry.pk, action_flag=ADDITION)
    with CaptureQueriesContext(connection) as ctx:
        updated = update_returning(
            entry, rows, {"action_flag": F("action_flag") + 1, "object_repr": "桥面"}
        )
    assert updated is True
    assert len(ctx.captured_queries) == 1
    assert (entry.action_flag, entry.object_repr) == (CHANGE, "桥面")
    assert _row(entry) == _row(LogEntry.objects.get(pk=entry.pk))


def test_no_matching_row_changes_neither_the_row_nor_the_instance() -> None:
    entry = _entry()
    before = _row(entry)
    rows = LogEntry.objects.filter(pk=entry.pk, action_flag=CHANGE)  # another version won
    assert update_returning(entry, rows, {"object_repr": "桥面"}) is False
    assert _row(entry) == before == _row(LogEntry.objects.get(pk=entry.pk))


def test_a_related_object_given_is_cached_and_a_changed_key_drops_the_old_one() -> None:
    entry = _entry()
    other = User.objects.create(mobile="13800000002", name="李强")
    first_id = entry.user_id
    update_returning(entry, LogEntry.objects.filter(pk=entry.pk), {"user": other})
    with CaptureQueriesContext(connection) as ctx:
        assert entry.user is other and entry.user_id == other.pk != first_id
    assert ctx.captured_queries == []
