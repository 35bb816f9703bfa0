"""An UPDATE that brings the instance up to date in the same statement.

`update_returning(obj, rows, values)` does what `rows.update(**values)` followed by
`obj.refresh_from_db()` does when `rows` matches `obj`'s row (or nothing): one statement
instead of two (`UPDATE … RETURNING`, PostgreSQL and SQLite ≥ 3.35 alike). Unlike
`refresh_from_db`, the related objects cached on `obj` stay where their foreign key did not
change (a transition need not read the case's category or unit again), and a related object
given in `values` is cached as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.db import connections
from django.db.models import Field, Model, QuerySet
from django.db.models.sql import UpdateQuery

# Per (model, connection alias): the RETURNING list and each column's converters.
_Returning = tuple[str, list[tuple[Field, Any, list[Any]]]]
_returning: dict[tuple[type[Model], str], _Returning] = {}


def update_returning(obj: Model, rows: QuerySet[Any], values: dict[str, Any]) -> bool:
    """Apply `values` to `rows` (at most `obj`'s row) and load the row's new values into
    `obj`; False, and `obj` untouched, when no row matched."""
    using = rows.db
    connection = connections[using]
    query = cast(UpdateQuery, rows.query.chain(UpdateQuery))
    query.add_update_values(values)
    sql, params = query.get_compiler(using).as_sql()
    returning, columns = _columns(type(obj), using)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {returning}", params)
        found = cursor.fetchall()
    if not found:
        return False
    assert len(found) == 1, "update_returning: the rows must be one row at most"
    _load(obj, columns, found[0], connection)
    for name, value in values.items():
        if isinstance(value, Model) or value is None:
            # The related object as given (the row's id was just set from it), not read again.
            field = obj._meta.get_field(name)
            if field.is_relation and field.many_to_one:
                setattr(obj, name, value)
    return True


def _load(obj: Model, columns: Sequence[tuple[Field, Any, list[Any]]], row: Any, conn: Any) -> None:
    for (field, col, converters), value in zip(columns, row, strict=True):
        for converter in converters:
            value = converter(value, col, conn)
        # Setting a foreign key's id drops the related object cached for another id.
        setattr(obj, field.attname, value)
    # As refresh_from_db: reverse relations and prefetched lists may have changed with the row.
    obj.__dict__.pop("_prefetched_objects_cache", None)
    for rel in obj._meta.related_objects:
        if rel.is_cached(obj):
            rel.delete_cached_value(obj)


def _columns(model: type[Model], using: str) -> _Returning:
    key = (model, using)
    if key not in _returning:
        connection = connections[using]
        quote = connection.ops.quote_name
        columns = []
        for field in model._meta.concrete_fields:
            col = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            columns.append((field, col, converters))
        # Unqualified: the statement has the one table (SQLite takes no table name here).
        names = ", ".join(quote(f.column) for f, _col, _c in columns)
        _returning[key] = (names, columns)
    return _returning[key]
