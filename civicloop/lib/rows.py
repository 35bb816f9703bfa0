"""Inserting one new row of a hot write path without compiling its SQL on every call.

`insert(obj)` does what `obj.save(force_insert=True)` does for a new instance of a plain model
(no parent model, no generated or database-default-only values, no save signals, no `save()` of
its own): the related
objects' ids are taken over, `pre_save` runs for every field (`auto_now`, `auto_now_add`), the
values are prepared by each field for the connection, and the new primary key comes back with
the insert (`RETURNING`, PostgreSQL and SQLite alike). The difference is the SQL: Django builds
it anew for every save (about a millisecond of CPU for a model of forty fields); here it is built
once per model and connection. Anything outside that plain case goes through `save()`.

`insert_family(parent, children)` inserts a new row and new rows that point at it (a case, its
first clock and its first event) in one statement on PostgreSQL, a round trip each saved:
data-modifying CTEs, the children taking the parent's id from the parent's `RETURNING`. Other
databases, and anything outside the plain case, get one `insert` after the other.

`cursor(using)` is the cursor these statements (and other fixed statements of hot paths) are
sent through: on PostgreSQL one that binds the parameters on the server, so that psycopg
prepares a statement once it has run `prepare_threshold` times (5, psycopg's default) on the
connection, and PostgreSQL parses and plans it once per connection instead of on every request.
Its statements are written with `%s` like any other; the cursor sends them with PostgreSQL's own
`$1` placeholders, converted once per statement in this process (psycopg would split a statement
of more than 50 parameters or 4 kB anew on every execution: the family insert, 0.3 ms).

`union(using, branches)` reads several fixed SELECTs in one statement (UNION ALL), one round
trip instead of one each: what a request reads before it writes (a report's category, placement
and memberships).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections, router
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, ForeignObject, Model
from django.db.models.fields import AutoFieldMixin
from django.db.models.signals import post_save, pre_save
from django.utils.asyncio import async_unsafe

_Statement = tuple[str, list[Field]]
_statements: dict[tuple[type[Model], str], _Statement | None] = {}


@contextmanager
def cursor(using: str) -> Iterator[CursorWrapper]:
    """Django's cursor of `using` (its checks, execute wrappers and query log); on PostgreSQL
    with server-side binding, which lets psycopg prepare a statement that is repeated.

    Only for statements built once from code, with a parameter for every value: the site's
    other queries keep Django's default client-side binding, under which some ORM queries
    (parameters in a GROUP BY, …) are valid that server-side binding would refuse. A statement
    is prepared on its own connection only (nothing is shared between connections or
    processes), and PostgreSQL replans a prepared statement itself when a table it uses
    changes (a migration). On PostgreSQL it is one cursor kept per connection: fetch a
    statement's rows before sending another through `cursor`."""
    connection = connections[using]
    # While queries are logged (DEBUG, tests capturing them), Django's cursor: its log shows a
    # server-bound statement as `$1` placeholders and a prepared one not at all.
    if connection.vendor != "postgresql" or connection.queries_logged:
        with connection.cursor() as plain:
            yield plain
        return
    yield _kept_cursor(connection)


@async_unsafe
def _kept_cursor(connection: Any) -> _DollarCursor:
    """The connection's server-binding cursor, opened once per database connection and thread
    and kept: opening one (Django's cursor path, then psycopg's cursor and its transformer)
    cost about 20 µs of CPU (4 µs now, both in a warm loop), twice per report. A cursor holds
    nothing between statements that matters (each `execute` replaces its result); the checks
    Django makes when it opens a cursor are made here every time (health check, connection,
    thread), and those it makes per statement stay with `_DollarCursor.execute` (broken
    transaction, error wrapping)."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw, thread = connection.connection, threading.get_ident()
    kept: tuple[Any, int, _DollarCursor] | None = getattr(connection, "_civicloop_kept", None)
    if kept is not None and kept[0] is raw and kept[1] == thread and not kept[2].cursor.closed:
        return kept[2]
    factory = raw.cursor_factory
    # Django's own cursor path (health check, time zone, wrappers) with the other class.
    raw.cursor_factory = _raw_cursor_class()
    try:
        wrapper = connection.cursor()
    finally:
        raw.cursor_factory = factory
    dollar = _DollarCursor(wrapper.cursor, connection)
    connection._civicloop_kept = (raw, thread, dollar)
    return dollar


@functools.cache
def _raw_cursor_class() -> type:
    """Django's server-binding cursor of psycopg 3, as a `RawCursor`: `$1` placeholders, the
    statement sent as it is (defined only under psycopg 3; the stubs know psycopg 2)."""
    import psycopg
    from django.db.backends.postgresql.base import CursorMixin  # type: ignore[attr-defined]

    return type("RawServerBindingCursor", (CursorMixin, psycopg.RawCursor), {})


class _DollarCursor(CursorWrapper):
    """Django's cursor wrapper, sending `%s` statements with `$n` placeholders."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        return super().execute(sql if params is None else dollar_placeholders(sql), params)


_PLACEHOLDER = re.compile(r"%(.)", re.DOTALL)


@functools.lru_cache(maxsize=512)
def dollar_placeholders(sql: str) -> str:
    """`sql` with `%s` as `$1`, `$2`, … and `%%` as `%` (what psycopg's own conversion does for
    positional parameters; any other `%` is an error, as there)."""
    count = 0

    def mark(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(1) == "%":
            return "%"
        if match.group(1) != "s":
            raise ValueError(f"only %s placeholders are supported: {sql[:80]!r}")
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(mark, sql)


def insert(obj: Model) -> None:
    """Insert `obj`, a new instance, as `obj.save(force_insert=True)` would."""
    using = router.db_for_write(type(obj), instance=obj)
    prepared = _prepared(obj, using)
    if prepared is None:
        obj.save(force_insert=True, using=using)
        return
    sql, params = prepared
    with cursor(using) as c:
        c.execute(sql, params)
        row = c.fetchone()
    assert row is not None
    _inserted(obj, using, row[0])


def insert_family(parent: Model, children: Sequence[Model]) -> None:
    """Insert `parent` and `children` (new instances, each with a foreign key set to the
    unsaved `parent`) as `insert` would, one after the other; one statement on PostgreSQL."""
    using = router.db_for_write(type(parent), instance=parent)
    if _family_statement(parent, children, using, None) is None:
        insert(parent)
        for child in children:
            insert(child)


@dataclass(frozen=True)
class Lead:
    """A statement run first in a family's statement, returning one value (`sql`, `params`:
    e.g. an upsert … RETURNING), and the parent's field computed from that value: `value`,
    the field's SQL, in which `{lead}` stands for the returned value (`value_params` its
    parameters)."""

    sql: str
    params: list[Any]
    field: str
    value: str
    value_params: list[Any]


def insert_family_led(parent: Model, children: Sequence[Model], lead: Lead) -> Any:
    """`insert_family` after `lead`, all in one statement (and so all or nothing without a
    transaction block); the value `lead` returned. None, and nothing written: not PostgreSQL
    or not plain (the caller runs the lead and `insert_family` in a transaction itself)."""
    using = router.db_for_write(type(parent), instance=parent)
    return _family_statement(parent, children, using, lead)


def _family_statement(
    parent: Model, children: Sequence[Model], using: str, lead: Lead | None
) -> Any:
    """Run the family's one statement: None if it cannot be one (nothing is written), else
    the lead's value (True without a lead)."""
    family = _family(parent, children, using, lead)
    if family is None:
        return None
    statements, links = family
    parts, params = [], []
    if lead is not None:
        parts.append(f"l0 AS ({lead.sql})")
        params += lead.params
    for i, (sql, child_params) in enumerate(statements):
        parts.append(f"r{i} AS ({sql})")
        params += child_params
    values = [f"(SELECT * FROM r{i})" for i in range(len(statements))]
    if lead is not None:
        values.append("(SELECT * FROM l0)")
    with cursor(using) as c:
        c.execute(f"WITH {', '.join(parts)} SELECT {', '.join(values)}", params)
        row = c.fetchone()
    assert row is not None
    _inserted(parent, using, row[0])
    for child, link, pk in zip(children, links, row[1 : 1 + len(children)], strict=True):
        # What `save()`'s check of the related objects would change now: the link, whose id
        # was null while the parent was unsaved (the others were saved, see `_link`), set
        # again as that check sets it (setting the id alone would drop the cached parent).
        setattr(child, link.name, parent)
        _inserted(child, using, pk)
    return row[-1] if lead is not None else True


def _family(
    parent: Model, children: Sequence[Model], using: str, lead: Lead | None
) -> tuple[list[tuple[str, list[Any]]], list[Field]] | None:
    """The INSERTs of a family for one WITH statement and each child's link to the parent, or
    None: not PostgreSQL, not plain, or a child not pointing at the parent (or at another
    unsaved object)."""
    if connections[using].vendor != "postgresql":
        return None
    first = _prepared(parent, using, lead=lead)
    if first is None:
        return None
    statements, links = [first], []
    for child in children:
        link = _link(child, parent)
        if link is None or router.db_for_write(type(child), instance=child) != using:
            return None
        child_statement = _prepared(child, using, link=link)
        if child_statement is None:
            return None
        statements.append(child_statement)
        links.append(link)
    return statements, links


def _link(child: Model, parent: Model) -> Field | None:
    """The foreign key of `child` set to `parent`, if every other one is saved."""
    link = None
    for field in child._meta.concrete_fields:
        if not isinstance(field, ForeignObject):
            continue
        related = field.get_cached_value(child, None)
        if related is parent:
            link = field
        elif related is not None and related.pk is None:
            return None
    return link


def _prepared(
    obj: Model, using: str, link: Field | None = None, lead: Lead | None = None
) -> tuple[str, list[Any]] | None:
    """The INSERT … RETURNING id of `obj` and its parameters; `link`: a foreign key to the
    family's parent, given as `(SELECT * FROM r0)`; `lead`: a field computed from the lead's
    value. None: `obj` needs `save()`."""
    connection = connections[using]
    statement = _statement(type(obj), using)
    if statement is None or not _plain(obj, connection.features.can_return_columns_from_insert):
        return None
    if link is None:
        obj._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]
    sql, fields = statement
    values = [field.pre_save(obj, True) for field in fields]
    if any(hasattr(value, "resolve_expression") for value in values):
        return None  # an expression: the ORM compiles it
    params: list[Any] = []
    marks: list[str] = []
    for field, value in zip(fields, values, strict=True):
        if field is link:
            marks.append("(SELECT * FROM r0)")
        elif lead is not None and field.name == lead.field:
            marks.append(lead.value.format(lead="(SELECT * FROM l0)"))
            params += lead.value_params
        else:
            marks.append("%s")
            params.append(field.get_db_prep_save(value, connection))
    if link is not None or lead is not None:
        sql = sql % tuple(marks)
    return sql, params


def _inserted(obj: Model, using: str, pk: Any) -> None:
    setattr(obj, obj._meta.pk.attname, pk)
    obj._state.adding = False
    obj._state.db = using


def _plain(obj: Model, returning: bool) -> bool:
    meta = obj._meta
    return (
        returning
        and obj.pk is None
        and type(obj).save is Model.save  # an own save() (e.g. the user's password) is called
        and type(obj).save_base is Model.save_base
        and not meta.parents
        and isinstance(meta.pk, AutoFieldMixin)
        and not pre_save.has_listeners(type(obj))
        and not post_save.has_listeners(type(obj))
    )


def _statement(model: type[Model], using: str) -> _Statement | None:
    """The INSERT of `model` (None: a field needs the ORM's own, e.g. a custom placeholder)."""
    key = (model, using)
    if key not in _statements:
        meta = model._meta
        quote = connections[using].ops.quote_name
        fields = [
            f
            for f in meta.local_concrete_fields
            if f is not meta.auto_field and not f.generated and not hasattr(f, "get_placeholder")
        ]
        if len(fields) != len(meta.local_concrete_fields) - 1:
            _statements[key] = None
            return None
        columns = ", ".join(quote(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        pk = quote(meta.pk.column)
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks}) RETURNING {pk}"
        _statements[key] = (sql, fields)
    return _statements[key]


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Branch:
    """One SELECT of a `union` statement: its result columns (SQL expressions from code), their
    database types (for the typed NULLs that stand for them in the other branches; None:
    untyped, only for a branch that comes first), the rest of it (`FROM … WHERE …`, constant
    SQL from code) with its parameters, and the order of its rows (an SQL expression, or '')."""

    columns: tuple[str, ...]
    types: tuple[str | None, ...]
    source: str
    params: tuple[Any, ...]
    order: str = ""


def union(using: str, branches: Sequence[Branch]) -> list[list[tuple[Any, ...]]]:
    """The rows of several SELECTs read in one statement, a round trip instead of one each:
    per branch, its rows in its order, each as a tuple of the branch's own columns.

    The branches become one UNION ALL, side by side: every branch has the columns of all of
    them, its own in place and typed NULLs in the others' (so that each result column has one
    type), after its number and its rows' rank."""
    sql = _union_sql(
        using,
        tuple(b.columns for b in branches),
        tuple(b.types for b in branches),
        tuple(b.source for b in branches),
        tuple(b.order for b in branches),
    )
    params = [p for b in branches for p in b.params]
    with cursor(using) as c:
        c.execute(sql, params)
        rows = c.fetchall()
    result: list[list[tuple[Any, ...]]] = [[] for _ in branches]
    offsets = []
    start = 2
    for b in branches:
        offsets.append((start, start + len(b.columns)))
        start += len(b.columns)
    for row in rows:
        i = row[0]
        first, end = offsets[i]
        result[i].append(tuple(row[first:end]))
    return result


@functools.lru_cache(maxsize=64)
def _union_sql(
    using: str,
    columns: tuple[tuple[str, ...], ...],
    types: tuple[tuple[str | None, ...], ...],
    sources: tuple[str, ...],
    orders: tuple[str, ...],
) -> str:
    selects = []
    for i, (source, order) in enumerate(zip(sources, orders, strict=True)):
        values: list[str] = []
        for j, (other, kinds) in enumerate(zip(columns, types, strict=True)):
            if j == i:
                values += other
            else:
                values += ["NULL" if kind is None else f"CAST(NULL AS {kind})" for kind in kinds]
        rank = f"ROW_NUMBER() OVER (ORDER BY {order})" if order else "0"
        selects.append(f"SELECT {i}, {rank}, {', '.join(values)} {source}")
    return " UNION ALL ".join(selects) + " ORDER BY 1, 2"


M = TypeVar("M", bound=Model)


class Select(Generic[M]):
    """`SELECT` of one model by a fixed condition, with some foreign keys' rows joined in (as
    `select_related`), built once: what a hot path's queryset does minus the compilation.
    The rows become model instances as the ORM makes them (`from_db`, the backend's value
    converters, the related objects cached on the instance; a missing one is None)."""

    def __init__(
        self, model: type[M], where: str, *, related: Sequence[str] = (), order: str = ""
    ) -> None:
        self.model = model
        self.where = where
        self.related = tuple(related)
        self.order = order
        self._built: dict[str, tuple[str, list[_Part]]] = {}
        self._branches: dict[str, Branch] = {}

    def all(self, params: Sequence[Any]) -> list[M]:
        using = router.db_for_read(self.model)
        sql, _parts = self._build(using)
        with cursor(using) as c:
            c.execute(sql, params)
            rows = c.fetchall()
        return self.instances(rows, using)

    def instances(self, rows: Sequence[Sequence[Any]], using: str) -> list[M]:
        """The instances of rows of this SELECT's columns (as `all` returns them)."""
        connection = connections[using]
        _sql, parts = self._build(using)
        return [self._instance(row, parts, connection, using) for row in rows]

    def branch(self, params: Sequence[Any], using: str) -> Branch:
        """This SELECT as a branch of a `union` statement (its rows: `instances`)."""
        if using not in self._branches:
            connection = connections[using]
            _sql, parts = self._build(using)
            self._branches[using] = Branch(
                columns=tuple(c for part in parts for c in part.columns),
                types=tuple(t for part in parts for t in part.types(connection)),
                source=self._source(using),
                params=(),
                order=self.order,
            )
        return dataclasses.replace(self._branches[using], params=tuple(params))

    def _instance(self, row: Sequence[Any], parts: list[_Part], connection: Any, using: str) -> M:
        objects: list[Model | None] = []
        start = 0
        for part in parts:
            values = part.convert(row[start : start + len(part.columns)], connection)
            start += len(part.columns)
            if part.link is not None and values[0] is None:
                objects.append(None)  # a null foreign key: nothing joined
            else:
                objects.append(part.model.from_db(using, part.attnames, values))
        main = objects[0]
        assert isinstance(main, self.model)
        for part, obj in zip(parts[1:], objects[1:], strict=True):
            assert isinstance(part.link, ForeignObject)
            part.link.set_cached_value(main, obj)
        return main

    def _build(self, using: str) -> tuple[str, list[_Part]]:
        if using not in self._built:
            connection = connections[using]
            quote = connection.ops.quote_name
            parts = [_Part(self.model, "t0", None, connection)]
            joins = []
            for i, name in enumerate(self.related, start=1):
                link = self.model._meta.get_field(name)
                assert isinstance(link, ForeignObject)
                target = link.related_model
                assert isinstance(target, type)
                part = _Part(target, f"t{i}", link, connection)
                parts.append(part)
                joins.append(
                    f"LEFT JOIN {quote(target._meta.db_table)} {part.alias} ON "
                    f"{part.alias}.{quote(target._meta.pk.column)} = t0.{quote(link.column)}"
                )
            columns = ", ".join(c for part in parts for c in part.columns)
            sql = f"SELECT {columns} {self._from(quote, joins)}"
            if self.order:
                sql += f" ORDER BY {self.order}"
            self._built[using] = (sql, parts)
        return self._built[using]

    def _from(self, quote: Any, joins: list[str]) -> str:
        return f"FROM {quote(self.model._meta.db_table)} t0 {' '.join(joins)} WHERE {self.where}"

    def _source(self, using: str) -> str:
        """`FROM … WHERE …` of the built statement."""
        sql, _parts = self._build(using)
        start = sql.index(" FROM ")
        end = sql.rindex(" ORDER BY ") if self.order else len(sql)
        return sql[start + 1 : end]


class _Part:
    """The columns of one model in a `Select`, with their converters."""

    def __init__(self, model: type[Model], alias: str, link: Field | None, connection: Any) -> None:
        self.model, self.alias, self.link = model, alias, link
        fields = list(model._meta.concrete_fields)
        quote = connection.ops.quote_name
        self.attnames = [f.attname for f in fields]
        self.columns = [f"{alias}.{quote(f.column)}" for f in fields]
        self.converters: list[tuple[Any, list[Any]]] = []
        for field in fields:
            col = field.get_col(alias)
            converters = [
                *connection.ops.get_db_converters(col),
                *col.get_db_converters(connection),
            ]
            self.converters.append((col, converters))
        # The primary key first, so a row of a null foreign key is recognised.
        assert fields[0] is model._meta.pk

    def types(self, connection: Any) -> list[str]:
        """The columns' database types, for a NULL of the same type (`CAST(NULL AS …)`)."""
        fields: list[Any] = list(self.model._meta.concrete_fields)
        return [field.cast_db_type(connection) or "text" for field in fields]

    def convert(self, values: Sequence[Any], connection: Any) -> list[Any]:
        """The row's values as the ORM's converters leave them (SQLite's booleans, …)."""
        converted = []
        for value, (col, converters) in zip(values, self.converters, strict=True):
            for converter in converters:
                value = converter(value, col, connection)
            converted.append(value)
        return converted
