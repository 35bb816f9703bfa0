"""`civicloop hj212 simulate`: N virtual devices against a listener (see simulator.py)."""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

from django.core.management.base import CommandError
from tqdm import tqdm

from civicloop.ingest.hj212 import Cn
from civicloop.ingest.loop import add_event_loop_argument
from civicloop.ingest.loop import run as run_on_loop
from civicloop.ingest.simulator import (
    DeviceBehaviour,
    DeviceSpec,
    Fault,
    SimulationReport,
    make_specs,
    parse_rate,
    simulate,
)

T = TypeVar("T")
HELP = """\
Runs N virtual data loggers (a mix of HJ 212-2017 and HJ/T 212-2005, wastewater outlets and
air micro stations) against an HJ 212 listener. Each uploads real-time data (CN 2011, Flag
"answer me"), waits for the 9014, retransmits on timeout and reconnects when dropped, and
answers history requests. At the end it reports sent/acknowledged frames and ack latency.

  civicloop hj212 simulate --devices 20 --rate 1 --duration 30 --register
  civicloop hj212 simulate --devices 200 --rate 1/30 --duration 120 \\
      --faults split,sticky,bad_crc,garbage,disconnect --fault-rate 0.1
  civicloop hj212 simulate --demo --rate 1/10 --duration 600      # the demo's points
"""


class Output(Protocol):
    def write(self, text: str) -> object: ...


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--devices", type=int, default=10, help="number of devices (10)")
    parser.add_argument(
        "--rate", default="1", help="uploads per second per device: 2, 0.5, 1/30 (1)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9212)
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--duration", type=float, help="seconds to run")
    limit.add_argument("--count", type=int, help="uploads per device")
    parser.add_argument(
        "--faults",
        default="",
        help="comma-separated: " + ",".join(fault.value for fault in Fault),
    )
    parser.add_argument("--fault-rate", type=float, default=0.05, help="share of uploads (0.05)")
    parser.add_argument("--minute-data", action="store_true", help="upload 2051 instead of 2011")
    parser.add_argument("--ack-timeout", type=float, default=5.0, help="seconds (5)")
    parser.add_argument("--prefix", default="YWSIM", help="MN prefix (YWSIM)")
    parser.add_argument("--password", default="123456")
    parser.add_argument("--demo", action="store_true", help="use the demo's monitoring points")
    parser.add_argument(
        "--register", action="store_true", help="create the devices' monitoring points first"
    )
    parser.add_argument("--seed", type=int)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--report", help="write the JSON report with every latency here")
    parser.add_argument("--no-progress", action="store_true")
    add_event_loop_argument(parser)


def parse_faults(text: str) -> tuple[Fault, ...]:
    try:
        return tuple(Fault(name.strip()) for name in text.split(",") if name.strip())
    except ValueError as error:
        names = ",".join(fault.value for fault in Fault)
        raise CommandError(f"unknown fault in {text!r}; choose from {names}") from error


def _specs(options: dict[str, Any]) -> list[DeviceSpec]:
    if options["demo"]:
        from civicloop.ingest.demo import register_demo_points

        return register_demo_points()
    specs = make_specs(options["devices"], prefix=options["prefix"], password=options["password"])
    if options["register"]:
        from civicloop.ingest.demo import register_points

        register_points(specs)
    return specs


def _behaviour(options: dict[str, Any]) -> DeviceBehaviour:
    try:
        rate = parse_rate(options["rate"])
    except ValueError as error:
        raise CommandError(str(error)) from error
    return DeviceBehaviour(
        interval=1.0 / rate,
        cn=Cn.MINUTE_DATA if options["minute_data"] else Cn.REALTIME_DATA,
        faults=parse_faults(options["faults"]),
        fault_rate=options["fault_rate"],
        ack_timeout=options["ack_timeout"],
    )


def _run_loop(coroutine: Coroutine[Any, Any, T], choice: str) -> T:
    try:
        return run_on_loop(coroutine, choice)
    except (ValueError, ImportError) as error:
        coroutine.close()
        raise CommandError(str(error)) from error


def run(options: dict[str, Any], stdout: Output) -> SimulationReport:
    if options["duration"] is None and options["count"] is None:
        raise CommandError("give --duration SECONDS or --count UPLOADS")
    behaviour = _behaviour(options)
    specs = _specs(options)
    total = options["count"] * len(specs) if options["count"] is not None else None
    with tqdm(
        total=total, unit="ack", disable=options["no_progress"], desc="devices", leave=False
    ) as bar:
        report = _run_loop(
            simulate(
                specs,
                host=options["host"],
                port=options["port"],
                behaviour=behaviour,
                count=options["count"],
                duration=options["duration"],
                seed=options["seed"],
                on_ack=functools.partial(bar.update, 1),
            ),
            options.get("event_loop", "asyncio"),
        )
    _write_report(report, options, stdout)
    return report


def _write_report(report: SimulationReport, options: dict[str, Any], stdout: Output) -> None:
    summary = report.summary()
    if options["report"]:
        document = summary | {"latencies_s": [round(value, 6) for value in report.latencies]}
        Path(options["report"]).write_text(json.dumps(document), encoding="utf-8")
    if options["json"]:
        stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
        return
    latency = summary["ack_latency_ms"]
    assert isinstance(latency, dict)
    stdout.write(
        f"devices {summary['devices']} · sent {summary['sent']} · acked {summary['acked']} "
        f"({summary['acked_ratio']}) · {summary['frames_per_s']} acks/s · "
        f"retransmits {summary['retransmits']} · reconnects {summary['reconnects']}\n"
        f"ack latency ms: p50 {latency['p50']} · p90 {latency['p90']} · "
        f"p99 {latency['p99']} · max {latency['max']}\n"
        f"faults injected: {summary['faults'] or 'none'} · history requests answered: "
        f"{summary['history_requests']} ({summary['history_records']} records)\n"
    )
