"""The service's database access: one thread, one Django connection, driven from asyncio.

Django's ORM is synchronous and its connections are per thread. Each `DatabaseThread` owns a
single-thread executor, so all its work runs on one connection, in order; the event loop
awaits the results. Connection failures (a PostgreSQL restart, a dropped socket) close the
connection so that the next call reconnects; the caller decides whether to retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
)

T = TypeVar("T")
# psycopg's own errors escape Django's wrapper on the raw COPY path of the monitoring writer.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
DATABASE_ERRORS: tuple[type[Exception], ...] = (DatabaseError, psycopg.Error)


class DatabaseThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, function: Callable[..., T], /, *args: object) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(_call, function, *args)
        return await loop.run_in_executor(self._executor, call)

    async def close(self) -> None:
        """Close this thread's connection (test databases refuse to drop with it open)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, _close_connection)
        self._executor.shutdown(wait=True)


def _call(function: Callable[..., T], *args: object) -> T:
    try:
        return function(*args)
    except TRANSIENT_ERRORS:
        # Drop the broken connection (close_old_connections only drops unusable ones Django
        # noticed itself; psycopg errors on the COPY path bypass that bookkeeping).
        close_old_connections()
        _close_connection()
        raise


def _close_connection() -> None:
    with contextlib.suppress(*TRANSIENT_ERRORS):
        connection.close()


class AsyncPostgres:
    """The writer's PostgreSQL connection driven by the event loop itself (psycopg async).

    Used instead of a `DatabaseThread` for the batch writes on PostgreSQL: no thread handing
    the GIL back and forth with a busy event loop at every round trip. A connection failure
    closes the connection (the next call reconnects) and propagates for the caller to retry.
    """

    def __init__(self, conninfo: str, *, connect_timeout: float = 10.0) -> None:
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None

    @classmethod
    def from_django(cls, alias: str = "default") -> AsyncPostgres:
        """Connect as Django's `alias` does (the test database under pytest): the backend's own
        connection parameters, OPTIONS included, less the keywords that are not libpq's (its
        sync cursor class, adapters and prepare threshold)."""
        params = dict(connections[alias].get_connection_params())
        for django_only in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(django_only, None)
        return cls(psycopg.conninfo.make_conninfo(**params))

    async def run(self, function: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        conn = await self._connection()
        try:
            return await function(conn)
        except TRANSIENT_ERRORS:
            await self.close()
            raise
        except BaseException:
            if conn.closed or conn.broken:
                await self.close()
            raise

    async def connect(self) -> None:
        """Open the connection now (at start: before thousands of device sockets take the
        process's file descriptors); a failure is left for the first batch to retry."""
        await self._connection()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(*TRANSIENT_ERRORS):
                await conn.close()

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = await psycopg.AsyncConnection.connect(
                self.conninfo,
                autocommit=True,  # each batch is one explicit transaction()
                connect_timeout=max(1, round(self.connect_timeout)),
            )
        return self._conn
