"""Fixtures for the ingestion service tests: a live service on loopback, raw device sockets.

The service runs in its own thread and event loop, like a real server, against the test
database (tests use `transactional_db`, so what the service commits is visible to them).
While it runs, tests read the database through the service's own connection
(`live.query(fn)`): SQLite's shared in-memory test database refuses a second connection's
reads while the writer holds a write transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import connection

from civicloop.ingest.backfill import BackfillSettings
from civicloop.ingest.demo import register_points
from civicloop.ingest.hj212 import DecodedFrame, StreamDecoder
from civicloop.ingest.listener import ListenerSettings
from civicloop.ingest.loop import loop_factory
from civicloop.ingest.service import IngestConfig, IngestService
from civicloop.ingest.simulator import DeviceSpec, make_specs
from civicloop.ingest.sink import StoreBatch, WriterSettings
from civicloop.monitoring.writer import store_batch

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]
CIVICLOOP = ROOT / ".venv" / "bin" / "civicloop"
# 2024-05-01 08:00:00 Asia/Shanghai
T0 = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: starts processes or a PostgreSQL cluster")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def ingest_config(**changes: Any) -> IngestConfig:
    """A service on a free loopback port, quick to batch and to flush frames without CRLF."""
    listener = ListenerSettings(host="127.0.0.1", port=0, flush_delay=0.1)
    writer = WriterSettings(batch_delay=0.002)
    config = IngestConfig(
        listener=listener,
        writer=writer,
        backfill=BackfillSettings(answer_timeout=10.0),
        metrics_port=0,
        points_refresh=3600.0,
        offline_check=0,  # tests that need the offline sweep turn it on
    )
    return dataclasses.replace(config, **changes)


class LiveIngest:
    """An `IngestService` running in a thread of its own."""

    def __init__(
        self, config: IngestConfig, store: StoreBatch = store_batch, event_loop: str = "asyncio"
    ) -> None:
        factory, _name = loop_factory(event_loop)
        self.loop = (factory or asyncio.new_event_loop)()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-ingest")
        self.service = IngestService(config, store=store)
        self.stopped = False

    def __enter__(self) -> LiveIngest:
        self.thread.start()
        self.call(self.service.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Commit what was received, close, and let the test use the ORM freely again."""
        if self.stopped:
            return
        self.stopped = True
        try:
            self.call(self.service.stop(), timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    @property
    def port(self) -> int:
        return self.service.port

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def query(self, function: Callable[..., T], *args: object) -> T:
        return self.call(self.service.database.run(function, *args))

    def metric(self, name: str, **labels: str) -> float:
        return float(getattr(self.service.metrics, name).value(**labels))

    def scrape(self) -> str:
        url = f"http://127.0.0.1:{self.service.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.02)


@pytest.fixture
def live(transactional_db: None) -> Iterator[Callable[..., LiveIngest]]:
    started: list[LiveIngest] = []

    def start(
        config: IngestConfig | None = None,
        store: StoreBatch = store_batch,
        event_loop: str = "asyncio",
    ) -> LiveIngest:
        service = LiveIngest(config or ingest_config(), store, event_loop)
        started.append(service.__enter__())
        return service

    yield start
    for service in reversed(started):
        service.stop()


class DeviceSocket:
    """A blocking TCP client speaking raw bytes: what a test device needs."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.decoder = StreamDecoder()
        self.received: list[DecodedFrame] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answers(self, count: int = 1, timeout: float = 10) -> list[DecodedFrame]:
        """Wait for `count` frames from the server (fewer if it stays silent for `timeout`)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            self.received.extend(self.decoder.feed(chunk))
        taken, self.received = self.received[:count], self.received[count:]
        return taken

    def silent_for(self, seconds: float) -> bool:
        return not self.answers(1, timeout=seconds)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@pytest.fixture
def device_socket() -> Iterator[Callable[[int], DeviceSocket]]:
    opened: list[DeviceSocket] = []

    def open_socket(port: int) -> DeviceSocket:
        opened.append(DeviceSocket(port))
        return opened[-1]

    yield open_socket
    for sock in opened:
        sock.close()


@pytest.fixture
def specs(transactional_db: None) -> list[DeviceSpec]:
    """Four registered devices: 2017 wastewater, 2017 air, 2005 wastewater, 2005 air."""
    specs = make_specs(4, prefix="YWTEST")
    register_points(specs)
    return specs


def free_port() -> int:
    """A free port below the ephemeral range, so that it stays free while a server restarts
    (a client socket may take any free ephemeral port meanwhile)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(100):
        port = random.randrange(10000, max(10001, low))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def database_url(settings: dict[str, Any]) -> str:
    """A DATABASE_URL for a PostgreSQL connection's settings (the test database)."""
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def subprocess_env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
