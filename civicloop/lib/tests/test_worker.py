"""`--loop` workers survive a database error in a pass and try again after the interval."""

from __future__ import annotations

import io
import signal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError

from civicloop.lib.worker import LoopCommand


class Flaky(LoopCommand):
    """Fails like a locked SQLite file on its first pass, then works, then is stopped."""

    default_interval = 0.0

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.passes = 0

    def run_pass(self, options: dict[str, Any]) -> str:
        self.passes += 1
        if self.passes == 1:
            raise OperationalError("database is locked")
        if self.passes == 3:
            self.stopping = True  # as SIGTERM would
        return f"pass {self.passes}"


@pytest.mark.django_db
def test_a_database_error_does_not_end_the_loop() -> None:
    before = signal.getsignal(signal.SIGTERM)
    out = io.StringIO()
    command = Flaky(stdout=out)
    call_command(command, "--loop", "--interval", "0")
    assert command.passes == 3
    assert out.getvalue().splitlines() == ["pass 2", "pass 3"]
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored


def test_without_loop_one_pass_and_errors_propagate() -> None:
    command = Flaky(stdout=io.StringIO())
    with pytest.raises(OperationalError):
        call_command(command)
    assert command.passes == 1


@pytest.mark.django_db
def test_the_real_workers_run_one_pass(db: None) -> None:
    for name, expected in (
        ("sla_sweep", "sla sweep: 0 clocks, 0 events"),
        ("notify", "notify: 0 events delivered"),
        ("kpi_rollup", "kpi rollup: 0 cases, 0 rollup rows"),
    ):
        out = io.StringIO()
        call_command(name, stdout=out)
        assert out.getvalue().strip() == expected, name


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("kpi_rollup", ["--batch", "0"], "需要不小于 1 的整数，收到 '0'"),
        ("sla_sweep", ["--batch", "-5"], "需要不小于 1 的整数，收到 '-5'"),
        ("notify", ["--batch", "many"], "需要不小于 1 的整数，收到 'many'"),
        ("env_sweep", ["--interval", "-1"], "需要不小于 0 的秒数，收到 '-1'"),
        ("rollup_readings", ["--interval", "nan"], "需要不小于 0 的秒数，收到 'nan'"),
    ],
)
def test_a_bad_batch_or_interval_is_refused_before_any_pass(
    command: str, args: list[str], message: str
) -> None:
    from django.core.management.base import CommandError

    # argparse refuses it: the command's handle(), and so any pass, never runs.
    with pytest.raises(CommandError) as refused:
        call_command(command, *args)
    assert message in str(refused.value)
