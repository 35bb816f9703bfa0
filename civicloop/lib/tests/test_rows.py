"""`lib.rows` writes and reads what the ORM writes and reads, and leaves what it does not handle
to the ORM. On Django's own models, so that `lib` stays free of the apps."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Model, Value
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from civicloop.lib import rows

pytestmark = pytest.mark.django_db
User = get_user_model()


def _row(obj: Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_insert_stores_the_instance_in_one_statement() -> None:
    user = User.objects.create(mobile="13800000001", name="王芳")
    entry = LogEntry(user=user, action_flag=ADDITION, object_repr="桥头", change_message="[]")
    with CaptureQueriesContext(connection) as ctx:
        rows.insert(entry)
    assert len(ctx.captured_queries) == 1
    assert entry.pk is not None and entry._state.adding is False and entry._state.db == "default"
    assert _row(LogEntry.objects.get(pk=entry.pk)) == _row(entry)


def test_insert_leaves_models_with_their_own_save_to_it(monkeypatch: Any) -> None:
    saved: list[str] = []
    original = Group.save

    def save(self: Group, *args: Any, **kwargs: Any) -> None:
        saved.append(self.name)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Group, "save", save)
    rows.insert(Group(name="网格长"))
    assert saved == ["网格长"]
    assert Group.objects.filter(name="网格长").count() == 1


def test_insert_runs_pre_save_like_save() -> None:
    """`auto_now_add` and friends: each field's own `pre_save` sets the value on the instance."""
    user = User.objects.create(mobile="13800000002", name="李强")
    entry = LogEntry(user=user, action_flag=ADDITION, object_repr="x", change_message="")
    rows.insert(entry)
    assert entry.action_time is not None
    assert _row(LogEntry.objects.get(pk=entry.pk)) == _row(entry)


def test_insert_leaves_models_with_save_signals_to_save() -> None:
    seen: list[str] = []

    def listener(sender: Any, instance: Group, **kwargs: Any) -> None:
        seen.append(instance.name)

    pre_save.connect(listener, sender=Group)
    try:
        rows.insert(Group(name="志愿者"))
    finally:
        pre_save.disconnect(listener, sender=Group)
    assert seen == ["志愿者"]
    assert Group.objects.filter(name="志愿者").count() == 1


def test_insert_leaves_expressions_to_save() -> None:
    group = Group(name=Value("网格员"))
    rows.insert(group)
    assert Group.objects.get(pk=group.pk).name == "网格员"


def test_insert_refuses_an_unsaved_related_object_as_save_does() -> None:
    entry = LogEntry(
        user=User(mobile="13800000003", name="未保存"), action_flag=ADDITION, object_repr="x"
    )
    with pytest.raises(ValueError, match="unsaved related object 'user'"):
        rows.insert(entry)


def test_insert_family_links_the_children_to_the_new_parent() -> None:
    kind = ContentType(app_label="civicloop_test", model="thing")
    children = [
        Permission(name="看", codename="view_thing", content_type=kind),
        Permission(name="改", codename="change_thing", content_type=kind),
    ]
    with CaptureQueriesContext(connection) as ctx:
        rows.insert_family(kind, children)
    assert len(ctx.captured_queries) == (1 if connection.vendor == "postgresql" else 3)
    assert kind.pk is not None
    assert [(p.content_type_id, p._state.adding) for p in children] == [(kind.pk, False)] * 2
    assert all(p.content_type is kind for p in children)  # the parent itself, not read again
    stored = Permission.objects.filter(content_type=kind).order_by("pk")
    assert [_row(p) for p in stored] == [_row(p) for p in children]


def test_insert_family_refuses_a_child_with_another_unsaved_object() -> None:
    kind = ContentType(app_label="civicloop_test", model="other")
    entry = LogEntry(
        content_type=kind,
        user=User(mobile="13800000003", name="未保存"),
        action_flag=ADDITION,
        object_repr="x",
    )
    with pytest.raises(ValueError, match="unsaved related object 'user'"):
        rows.insert_family(kind, [entry])


def test_insert_family_led_computes_a_field_from_the_lead_in_the_same_statement() -> None:
    kind = ContentType(app_label="civicloop_test", model="")
    children = [Permission(name="看", codename="view_led", content_type=kind)]
    lead = rows.Lead(
        sql="SELECT %s::int * 2",
        params=[21],
        field="model",
        value="(%s || {lead}::text)",
        value_params=["thing_"],
    )
    with CaptureQueriesContext(connection) as ctx:
        value = rows.insert_family_led(kind, children, lead)
    if connection.vendor != "postgresql":
        # Not one statement: nothing written, the caller runs the lead and the family itself.
        assert (value, ctx.captured_queries, kind.pk) == (None, [], None)
        return
    assert (value, len(ctx.captured_queries)) == (42, 1)
    stored = ContentType.objects.get(pk=kind.pk)
    assert stored.model == "thing_42"
    assert Permission.objects.get(pk=children[0].pk).content_type_id == kind.pk


def test_cursor_lets_postgresql_prepare_a_repeated_statement() -> None:
    """On PostgreSQL a statement is prepared on its connection once psycopg has seen it
    `prepare_threshold` times; while queries are logged, the log shows it with its values."""
    sql = "SELECT %s + 1 AS civicloop_prepared_probe"
    for i in range(6):
        with rows.cursor("default") as cursor:
            cursor.execute(sql, [i])
            assert cursor.fetchone()[0] == i + 1
    with CaptureQueriesContext(connection) as ctx, rows.cursor("default") as cursor:
        cursor.execute(sql, [7])
    assert [q["sql"] for q in ctx.captured_queries] == [sql % 7]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%civicloop_prepared_probe%"],
        )
        assert cursor.fetchone()[0] == 1


def test_select_reads_what_the_orm_reads() -> None:
    user = User.objects.create(
        mobile="13800000004", name="赵磊", is_staff=True, last_login=timezone.now()
    )
    kind = ContentType.objects.get_for_model(Group)
    with_kind = LogEntry.objects.create(
        user=user, content_type=kind, action_flag=ADDITION, object_repr="a"
    )
    without = LogEntry.objects.create(user=user, action_flag=ADDITION, object_repr="b")
    select = rows.Select(
        LogEntry, "t0.user_id = %s", related=("user", "content_type"), order="t0.id"
    )
    with CaptureQueriesContext(connection) as ctx:
        got = select.all([user.pk])
        related: list[tuple[Any, Any]] = [(e.user, e.content_type) for e in got]
    assert len(ctx.captured_queries) == 1  # the related objects came with the rows
    assert [e.pk for e in got] == [with_kind.pk, without.pk]
    expected = list(
        LogEntry.objects.filter(user=user).select_related("user", "content_type").order_by("id")
    )
    assert [_row(e) for e in got] == [_row(e) for e in expected]
    orm: list[tuple[Any, Any]] = [(e.user, e.content_type) for e in expected]
    assert [(_row(u), c and _row(c)) for u, c in related] == [
        (_row(u), c and _row(c)) for u, c in orm
    ]
    assert related[1][1] is None
    reader = related[0][0]
    assert type(reader.is_staff) is bool and timezone.is_aware(reader.last_login)


def test_union_reads_several_selects_in_one_statement() -> None:
    """Each branch's rows as its own SELECT reads them, in its order, one statement for all;
    a branch without rows gives none, and the typed NULLs standing in for the other branches'
    columns (timestamps, booleans, integers) do not disturb the types of any."""
    user = User.objects.create(
        mobile="13800000005", name="孙丽", is_staff=True, last_login=timezone.now()
    )
    kind = ContentType.objects.get_for_model(Group)
    entries = [
        LogEntry.objects.create(user=user, content_type=kind, action_flag=ADDITION, object_repr=r)
        for r in ("b", "a")
    ]
    logs = rows.Select(LogEntry, "t0.user_id = %s", related=("user", "content_type"), order="t0.id")
    people: rows.Select[Any] = rows.Select(User, "t0.mobile = %s")
    kinds = rows.Select(ContentType, "t0.app_label = %s AND t0.model = %s")
    branches = [
        people.branch([user.mobile], "default"),
        logs.branch([user.pk], "default"),
        people.branch(["13899999999"], "default"),
        kinds.branch(["auth", "group"], "default"),
    ]
    with CaptureQueriesContext(connection) as ctx:
        found = rows.union("default", branches)
    assert len(ctx.captured_queries) == 1
    assert [len(f) for f in found] == [1, 2, 0, 1]
    read_user: Any = people.instances(found[0], "default")[0]
    assert _row(read_user) == _row(User.objects.get(pk=user.pk))
    assert type(read_user.is_staff) is bool and timezone.is_aware(read_user.last_login)
    read_logs = logs.instances(found[1], "default")
    assert [e.pk for e in read_logs] == [e.pk for e in entries]  # in the branch's order
    assert [_row(e) for e in read_logs] == [_row(e) for e in logs.all([user.pk])]
    assert [(_row(e.user), _row(e.content_type)) for e in read_logs] == [  # type: ignore[arg-type]
        (_row(user), _row(kind))
    ] * 2
    assert [_row(c) for c in kinds.instances(found[3], "default")] == [_row(kind)]
    # The same statement again (prepared on PostgreSQL by now) reads the same.
    for _ in range(6):
        assert rows.union("default", branches) == found


def test_the_hot_path_cursor_sends_dollar_placeholders() -> None:
    assert rows.dollar_placeholders("SELECT %s, '%%' || %s") == "SELECT $1, '%' || $2"
    with pytest.raises(ValueError, match="only %s"):
        rows.dollar_placeholders("SELECT %d")
    # A literal percent sign and parameters, through the cursor (also once prepared).
    for i in range(6):
        with rows.cursor("default") as cursor:
            cursor.execute("SELECT %s || '%%' || %s", [str(i), "x"])
            assert cursor.fetchone()[0] == f"{i}%x"


@pytest.mark.django_db(transaction=True)
def test_the_hot_path_cursor_is_kept_per_connection() -> None:
    """On PostgreSQL one server-binding cursor is opened per connection and kept (opening one
    cost 0.08 ms of CPU per statement); a new connection gets a new one that works."""
    used = []
    for i in range(3):
        with rows.cursor("default") as cursor:
            cursor.execute("SELECT %s + 1", [i])
            assert cursor.fetchone()[0] == i + 1
            used.append(cursor)
    if connection.vendor != "postgresql":
        assert used[0] is not used[1]  # Django's cursor each time, closed after use
        return
    assert used[1] is used[0] and used[2] is used[0]
    connection.close()
    with rows.cursor("default") as cursor:
        cursor.execute("SELECT %s + 1", [41])
        assert cursor.fetchone()[0] == 42
    assert cursor is not used[0] and cursor.cursor.connection is connection.connection
