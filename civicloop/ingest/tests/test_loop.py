"""The ingest processes' event loop choice: uvloop when installed and asked for, else asyncio."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import weakref

import pytest

from civicloop.ingest.loop import (
    EVENT_LOOPS,
    GC_YOUNG_THRESHOLD,
    long_lived_process,
    loop_factory,
    run,
)

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_asyncio_is_the_standard_loop():
    assert loop_factory("asyncio") == (None, "asyncio")
    assert run(_loop_module(), "asyncio").startswith("asyncio.")


@pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop not installed")
@pytest.mark.parametrize("choice", ["auto", "uvloop"])
def test_auto_and_uvloop_run_on_uvloop_when_installed(choice):
    assert loop_factory(choice)[1] == "uvloop"
    assert run(_loop_module(), choice) == "uvloop"


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "uvloop", None)  # import fails
    assert loop_factory("auto") == (None, "asyncio")
    with pytest.raises(ImportError):
        loop_factory("uvloop")


def test_an_unknown_loop_is_refused():
    assert EVENT_LOOPS == ("auto", "uvloop", "asyncio")
    with pytest.raises(ValueError, match="event loop must be one of"):
        loop_factory("trio")


def test_a_long_lived_process_collects_less_often_and_restores_the_collector():
    before = gc.get_threshold()
    with long_lived_process():
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0  # what was alive at start is left alone
        cycle: list[object] = []
        cycle.append(cycle)
        alive = weakref.ref(_Cycle(cycle))
        gc.collect()
        assert alive() is None  # cycles are still collected
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


class _Cycle:
    def __init__(self, other: object) -> None:
        self.me = self
        self.other = other
