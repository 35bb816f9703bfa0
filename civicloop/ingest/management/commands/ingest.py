"""`civicloop ingest`: the HJ 212 TCP listener and MQTT subscriber (see docs/ingest.md)."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from civicloop.ingest.backfill import BackfillSettings
from civicloop.ingest.hj212 import MAX_LENGTH
from civicloop.ingest.listener import ListenerSettings
from civicloop.ingest.loop import add_event_loop_argument, long_lived_process, loop_factory
from civicloop.ingest.mqtt import MqttSettings
from civicloop.ingest.service import IngestConfig, IngestService
from civicloop.ingest.sink import WriterSettings
from civicloop.lib.worker import positive_int, positive_minutes, seconds


def raise_file_limit() -> int:
    """Lift the soft limit on open files to the hard one: one descriptor per device."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


class Command(BaseCommand):
    help = "运行监测数据接入服务：HJ 212 TCP 监听、MQTT 订阅、批量写库与指标端点"

    def add_arguments(self, parser: CommandParser) -> None:
        tcp = parser.add_argument_group("HJ 212 over TCP")
        tcp.add_argument("--host", default="0.0.0.0", help="listen address (default 0.0.0.0)")
        tcp.add_argument("--port", type=int, default=9212, help="listen port (default 9212)")
        tcp.add_argument(
            "--reuse-port",
            action="store_true",
            help="SO_REUSEPORT: run several ingest processes on one port",
        )
        tcp.add_argument("--idle-timeout", type=float, default=600.0, help="seconds (600)")
        tcp.add_argument("--max-frame", type=int, default=MAX_LENGTH, help="data segment bytes")
        tcp.add_argument(
            "--max-inflight", type=int, default=64, help="unacknowledged frames per connection"
        )
        mqtt = parser.add_argument_group("MQTT (micro air stations)")
        mqtt.add_argument("--mqtt-host", help="broker host; MQTT is off without it")
        mqtt.add_argument("--mqtt-port", type=int, default=1883)
        mqtt.add_argument("--mqtt-topic", default="civicloop/air/+/data")
        mqtt.add_argument("--mqtt-client-id", default="civicloop-ingest")
        mqtt.add_argument("--mqtt-username", default=os.environ.get("INGEST_MQTT_USERNAME"))
        writer = parser.add_argument_group("writer")
        writer.add_argument("--queue-size", type=int, default=5_000, help="records (5000)")
        writer.add_argument("--batch-rows", type=int, default=5_000, help="rows per commit")
        writer.add_argument("--batch-delay", type=float, default=0.01, help="seconds (0.01)")
        writer.add_argument(
            "--writer-connections",
            type=positive_int,
            default=2,
            help="PostgreSQL connections committing batches side by side (2)",
        )
        backfill = parser.add_argument_group("back-fill")
        backfill.add_argument("--no-backfill", action="store_true")
        backfill.add_argument("--backfill-gap", type=float, default=10.0, help="minutes (10)")
        backfill.add_argument("--backfill-max", type=float, default=72.0, help="hours (72)")
        offline = parser.add_argument_group("offline points")
        offline.add_argument(
            "--offline-after",
            type=positive_minutes,
            default=30.0,
            help="minutes without an accepted frame before a point is marked offline (30)",
        )
        offline.add_argument(
            "--offline-check",
            type=seconds,
            default=60.0,
            help="seconds between offline sweeps (60; 0 = no sweep)",
        )
        add_event_loop_argument(parser)
        metrics = parser.add_argument_group("metrics")
        metrics.add_argument("--metrics-host", default="127.0.0.1")
        metrics.add_argument(
            "--metrics-port", type=int, default=9213, help="9213; 0 = any free port, -1 = off"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        limit = raise_file_limit()
        config = self._config(options)
        try:
            factory, name = loop_factory(options["event_loop"])
        except (ValueError, ImportError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"open files limit: {limit}, event loop: {name}")
        with long_lived_process(), asyncio.Runner(loop_factory=factory) as runner:
            runner.run(self._serve(config))

    def _config(self, options: dict[str, Any]) -> IngestConfig:
        mqtt = None
        if options["mqtt_host"]:
            mqtt = MqttSettings(
                host=options["mqtt_host"],
                port=options["mqtt_port"],
                topic=options["mqtt_topic"],
                client_id=options["mqtt_client_id"],
                username=options["mqtt_username"],
                password=os.environ.get("INGEST_MQTT_PASSWORD"),
            )
        metrics_port = options["metrics_port"]
        return IngestConfig(
            listener=ListenerSettings(
                host=options["host"],
                port=options["port"],
                reuse_port=options["reuse_port"],
                idle_timeout=options["idle_timeout"],
                max_frame_length=options["max_frame"],
                max_inflight=options["max_inflight"],
            ),
            writer=WriterSettings(
                queue_size=options["queue_size"],
                batch_rows=options["batch_rows"],
                batch_delay=options["batch_delay"],
                connections=options["writer_connections"],
            ),
            backfill=BackfillSettings(
                enabled=not options["no_backfill"],
                gap=timedelta(minutes=options["backfill_gap"]),
                max_span=timedelta(hours=options["backfill_max"]),
            ),
            mqtt=mqtt,
            offline_after=timedelta(minutes=options["offline_after"]),
            offline_check=options["offline_check"],
            metrics_host=options["metrics_host"],
            metrics_port=None if metrics_port < 0 else metrics_port,
        )

    async def _serve(self, config: IngestConfig) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        service = IngestService(config)
        await service.start()
        metrics = service.metrics_port if service.metrics_port is not None else "off"
        self.stdout.write(
            f"ingest listening on {config.listener.host}:{service.port} (metrics: {metrics})"
        )
        self.stdout.flush()
        try:
            await stop.wait()
        finally:
            self.stdout.write("ingest stopping: committing what was received …")
            await service.stop()
            self.stdout.write("ingest stopped")
