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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psycopg
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
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
