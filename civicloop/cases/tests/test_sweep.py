"""The SLA sweep: levels at 80 %, 100 % and the serious threshold, one event per level on the
timeline with the rung of the ladder to notify; idempotent, and safe with two workers."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection

from civicloop.cases import services
from civicloop.cases.models import (
    Case,
    CaseClock,
    CaseEvent,
    Category,
    EventType,
    LimitUnit,
    SlaLevel,
    Stage,
    TimeLimit,
    TimeLimitVersion,
)
from civicloop.cases.sweep import SweepResult, sla_sweep
from civicloop.cases.tests.conftest import local
from civicloop.conftest import IN_GRID, People, World
from civicloop.lib import clock

pytestmark = pytest.mark.usefixtures("categories", "workcal")

SLA_EVENTS = [EventType.SLA_WARNING, EventType.SLA_OVERDUE, EventType.SLA_SERIOUS]


def _accepted(people: People, world: World, at: datetime) -> Case:
    """暴露垃圾 (4 working hours) filed, dispatched and claimed at `at`."""
    with clock.frozen(at):
        case = services.case_report(
            by=people.resident,
            category=Category.objects.get(kind="event", full_code="0102"),
            description="垃圾堆放",
            lat=IN_GRID[0],
            lon=IN_GRID[1],
        )
        services.case_file(case=case, by=people.clerk)
        services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
        services.case_claim(case=case, by=people.handler)
    return case


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _sla_events(case: Case) -> list[tuple[str, dict[str, object]]]:
    return [
        (e.type, e.data)
        for e in CaseEvent.objects.filter(case=case, type__in=SLA_EVENTS).order_by("seq")
    ]


def test_each_level_is_marked_once(people: People, world: World) -> None:
    case = _accepted(people, world, local(2026, 11, 26, 9))  # due 15:00, warn 14:12
    assert sla_sweep(now=local(2026, 11, 26, 14)) == SweepResult(0, 0)
    assert sla_sweep(now=local(2026, 11, 26, 14, 12)) == SweepResult(1, 1)
    assert sla_sweep(now=local(2026, 11, 26, 14, 30)) == SweepResult(0, 0)
    assert sla_sweep(now=local(2026, 11, 26, 15)) == SweepResult(1, 1)
    case.refresh_from_db()
    assert case.sla_level == SlaLevel.OVERDUE
    assert _sla_events(case) == [
        (
            EventType.SLA_WARNING,
            {
                "stage": "dispose",
                "level": 1,
                "at": iso(local(2026, 11, 26, 14, 12)),
                "due_at": iso(local(2026, 11, 26, 15)),
                "notify": ["unit_handlers"],
            },
        ),
        (
            EventType.SLA_OVERDUE,
            {
                "stage": "dispose",
                "level": 2,
                "at": iso(local(2026, 11, 26, 15)),
                "due_at": iso(local(2026, 11, 26, 15)),
                "notify": ["unit_handlers", "unit_heads"],
            },
        ),
    ]


def test_a_late_sweep_marks_every_level_passed(people: People, world: World) -> None:
    case = _accepted(people, world, local(2026, 11, 26, 9))  # serious at 200 %: Fri 10:00
    assert sla_sweep(now=local(2026, 11, 27, 10, 30)) == SweepResult(1, 3)
    assert sla_sweep(now=local(2026, 11, 27, 10, 30)) == SweepResult(0, 0)
    case.refresh_from_db()
    events = _sla_events(case)
    assert [t for t, _ in events] == SLA_EVENTS
    assert events[2][1]["notify"] == ["unit_heads", "town_centre", "city_centre"]
    assert case.sla_level == SlaLevel.SERIOUS
    seqs = list(CaseEvent.objects.filter(case=case).values_list("seq", flat=True))
    assert seqs == list(range(1, case.version + 1))
    dispose = CaseClock.objects.get(case=case, stage=Stage.DISPOSE)
    assert (dispose.level, dispose.next_level_at) == (SlaLevel.SERIOUS, None)


def test_suspended_and_finished_clocks_are_left_alone(people: People, world: World) -> None:
    suspended = _accepted(people, world, local(2026, 11, 26, 9))
    finished = _accepted(people, world, local(2026, 11, 26, 9))
    with clock.frozen(local(2026, 11, 26, 10)):
        services.case_request_suspension(case=suspended, by=people.handler, note="等待确认")
        services.case_decide_suspension(case=suspended, by=people.dispatcher, approve=True)
        from civicloop.cases.tests.journeys import photo

        services.case_submit(case=finished, by=people.handler, photos=[photo(1)])
    # The check clock of the finished case has no limit in the default rules.
    assert sla_sweep(now=local(2026, 12, 31, 12)) == SweepResult(0, 0)
    assert _sla_events(suspended) == _sla_events(finished) == []


def test_stage_clocks_climb_their_own_ladder(people: People, world: World) -> None:
    version = TimeLimitVersion.objects.create(name="v1", effective_from=local(2026, 1, 1))
    TimeLimit.objects.create(
        version=version, stage=Stage.INTAKE, value=1, unit=LimitUnit.WORKING_HOURS
    )
    with clock.frozen(local(2026, 11, 26, 9)):
        case = services.case_report(
            by=people.resident,
            category=Category.objects.get(kind="event", full_code="0102"),
            description="垃圾堆放",
            lat=IN_GRID[0],
            lon=IN_GRID[1],
        )
    assert sla_sweep(now=local(2026, 11, 26, 10, 5)) == SweepResult(1, 2)
    assert [d["notify"] for _, d in _sla_events(case)] == [
        ["town_clerks"],
        ["town_clerks", "town_shift_leads"],
    ]
    case.refresh_from_db()  # the sweep moved its version on
    with clock.frozen(local(2026, 11, 26, 10, 10)):
        services.case_file(case=case, by=people.clerk)
    intake = CaseClock.objects.get(case=case, stage=Stage.INTAKE)
    assert (intake.on_time, intake.level, intake.stopped_by) == (False, 2, people.clerk)
    case.refresh_from_db()
    assert case.sla_level == SlaLevel.NORMAL  # the running disposal clock is fresh


def test_an_extension_lowers_the_level(people: People, world: World) -> None:
    case = _accepted(people, world, local(2026, 11, 26, 9))
    sla_sweep(now=local(2026, 11, 26, 15, 30))
    case.refresh_from_db()
    with clock.frozen(local(2026, 11, 26, 15, 40)):
        services.case_request_extension(
            case=case, by=people.handler, until=local(2026, 12, 1, 17), note="需调车"
        )
        services.case_decide_extension(case=case, by=people.dispatcher, approve=True)
    case.refresh_from_db()
    dispose = CaseClock.objects.get(case=case, stage=Stage.DISPOSE)
    assert (case.sla_level, dispose.level) == (SlaLevel.NORMAL, SlaLevel.NORMAL)
    assert dispose.next_level_at == dispose.warn_at


def test_the_command_sweeps(people: People, world: World) -> None:
    _accepted(people, world, local(2026, 11, 26, 9))
    out = io.StringIO()
    with clock.frozen(local(2026, 11, 26, 16)):
        call_command("sla_sweep", stdout=out)
    assert out.getvalue() == "sla sweep: 1 clocks, 2 events\n"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_mark_a_level_twice(people: People, world: World) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
    cases = [_accepted(people, world, local(2026, 11, 26, 9)) for _ in range(12)]
    barrier = threading.Barrier(2)
    results: list[SweepResult] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(sla_sweep(now=local(2026, 11, 27, 10, 30), batch=2))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.clocks for r in results) == 12
    assert sum(r.events for r in results) == 36
    for case in cases:
        assert [t for t, _ in _sla_events(case)] == SLA_EVENTS
    assert sla_sweep(now=local(2026, 11, 27, 10, 30)) == SweepResult(0, 0)
