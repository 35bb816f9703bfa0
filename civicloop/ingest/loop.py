"""The event loop of the ingest processes: uvloop when it is installed and chosen, else asyncio's.

`civicloop ingest` and `civicloop hj212 simulate` take `--event-loop {auto,uvloop,asyncio}`
(default: the `INGEST_EVENT_LOOP` environment variable, else `auto`). `auto` uses uvloop if
it can be imported and falls back to the standard loop otherwise; `uvloop` insists on it. The
code runs unchanged on both (the tests run on the standard loop, and once on uvloop).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def add_event_loop_argument(parser: argparse.ArgumentParser | Any) -> None:
    parser.add_argument(
        "--event-loop",
        choices=EVENT_LOOPS,
        default=os.environ.get("INGEST_EVENT_LOOP", "auto").strip().lower() or "auto",
        help="auto (uvloop if installed), uvloop or asyncio; env INGEST_EVENT_LOOP (auto)",
    )


def loop_factory(choice: str) -> tuple[LoopFactory | None, str]:
    """The factory for `asyncio.Runner` (None: the standard loop) and the loop's name."""
    if choice not in EVENT_LOOPS:
        raise ValueError(f"event loop must be one of {', '.join(EVENT_LOOPS)}, not {choice!r}")
    if choice == "asyncio":
        return None, "asyncio"
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise
        logger.info("uvloop is not installed: running on the standard asyncio loop")
        return None, "asyncio"
    return uvloop.new_event_loop, "uvloop"


def run(coroutine: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """`asyncio.run` on the chosen loop."""
    factory, _name = loop_factory(choice)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine)
