"""KPI rollups (cases.kpi_rollups): a report read from the rollups plus the cases computed
directly gives exactly the numbers of the direct computation, before and after rolling, after
un-rolling (by the services, when a settled case changes after all) and with two workers."""

from __future__ import annotations

import io
import random
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F, Q

from civicloop.accounts.models import Organisation
from civicloop.cases import kpi_rollups, kpis, services
from civicloop.cases.kpi_rollups import roll, unroll
from civicloop.cases.kpis import Dimension, KpiFilters, PeriodKind, Scope
from civicloop.cases.models import (
    ROLLUP_COUNTERS,
    Case,
    CaseClock,
    Category,
    ClosureReason,
    Dispatch,
    DispatchOutcome,
    KpiRollup,
    Satisfaction,
    Source,
    Stage,
    State,
)
from civicloop.cases.tests.conftest import local
from civicloop.cases.tests.journeys import case_in
from civicloop.conftest import People, World
from civicloop.lib import clock

pytestmark = pytest.mark.usefixtures("categories")

Rows = list[tuple[Any, str, dict[str, tuple[int, int]]]]


def _rows(report: kpis.Report) -> Rows:
    return [
        (
            row.key,
            row.label,
            {code: (v.numerator, v.denominator) for code, v in sorted(row.values.items())},
        )
        for row in report.rows
    ]


# ---------------------------------------------------------------- a random city


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(hours=rng.uniform(low, high))


def _edge(rng: random.Random, t: datetime) -> datetime:
    """Now and then an instant exactly at a local midnight (the boundary of days and cutoffs)."""
    if rng.random() < 0.08:
        return datetime(t.year, t.month, t.day, tzinfo=t.tzinfo)
    return t


class RandomCity:
    """Cases in every state with random facts, stage clocks and dispatch records, from late
    September 2026 to early January 2027, in two towns, several sources and 小类 of different
    大类 (and a component and an event 小类 with the same code)."""

    def __init__(self, people: People, world: World, seed: int, count: int = 160) -> None:
        self.rng = rng = random.Random(seed)
        self.people, self.world = people, world
        majors = Category.objects.filter(parent__isnull=True).order_by("pk")
        self.minors = [m.children.order_by("pk")[0] for m in majors[:5]]
        self.minors += list(Category.objects.filter(full_code="0102", parent__isnull=False))
        self.places = [
            (world.grid, world.village, world.town),
            (world.grid2, world.village, world.town),
            (world.other_grid, world.other_grid.parent, world.other_town),
        ]
        self.units = [world.sanitation, world.parks, world.other_sanitation]
        self.orgs: list[Organisation | None] = [
            world.sanitation,
            world.parks,
            world.other_sanitation,
            None,
        ]
        for n in range(count):
            self._case(n, rng)

    def _case(self, n: int, rng: random.Random) -> None:
        p = self.people
        grid, village, town = rng.choice(self.places)
        state = rng.choice(list(State))
        source = rng.choice([Source.GRID_WORKER, Source.HOTLINE, Source.RESIDENT, Source.SENSOR])
        reported = _edge(rng, local(2026, 9, 25) + _hours(rng, 0, 24 * 100))
        decided = state not in (State.DRAFT, State.REPORTED, State.VERIFYING)
        filed = None
        if (decided and state not in (State.REJECTED, State.MERGED)) or rng.random() < 0.05:
            filed = reported + _hours(rng, 0, 30)
        due = _edge(rng, filed + _hours(rng, 2, 24 * 12)) if filed else None
        disposed = closed = rated = None
        if filed and (state in (State.SUBMITTED, State.CLOSED) or rng.random() < 0.1):
            disposed = _edge(rng, filed + _hours(rng, 1, 24 * 15))
        if state == State.CLOSED:
            closed = _edge(rng, (disposed or filed or reported) + _hours(rng, 0, 24 * 4))
            if rng.random() < 0.5:
                rated = _edge(rng, closed + _hours(rng, 0, 24 * 10))
        instants = [t for t in (reported, filed, due, disposed, closed, rated) if t]
        case = Case.objects.create(
            number=f"R{n:06d}",
            state=state,
            source=source,
            category=rng.choice(self.minors),
            description=f"随机案件{n}",
            lat=29.3,
            lon=120.07,
            city=self.world.city,
            town=town,
            village=village,
            grid=grid,
            reporter=rng.choice([p.grid_worker, p.resident, None]),
            assigned_org=rng.choice(self.orgs),
            reported_at=reported,
            filed_at=filed,
            due_at=due,
            disposed_at=disposed,
            closed_at=closed,
            on_time=None if closed is None else bool(disposed and due and disposed <= due),
            intake_on_time=rng.choice([None, True, False]),
            rework_count=rng.choice([0, 0, 0, 1, 2]),
            closure_reason=rng.choice(list(ClosureReason)) if closed else "",
            satisfaction=rng.choice(list(Satisfaction)) if rated else "",
            rated_at=rated,
            sla_level=rng.randrange(4),
            updated_at=max(instants) + _hours(rng, 0, 5),
        )
        stages = [Stage.VERIFY, Stage.CHECK, Stage.DISPOSE]  # one running clock per stage
        for stage in rng.sample(stages, rng.choice([0, 1, 1, 2])):
            final = state in (State.CLOSED, State.REJECTED)
            self._clock(case, rng, stage, reported, final=final)
        if filed:
            for _ in range(rng.choice([0, 1, 1, 2])):
                Dispatch.objects.create(
                    case=case,
                    organisation=rng.choice(self.units),
                    by=rng.choice([p.dispatcher, None]),
                    at=_edge(rng, filed + _hours(rng, 0, 48)),
                    outcome=rng.choice(list(DispatchOutcome)),
                )

    def _clock(
        self, case: Case, rng: random.Random, stage: Stage, start: datetime, *, final: bool
    ) -> None:
        started = start + _hours(rng, 0, 24 * 5)
        due = _edge(rng, started + _hours(rng, 1, 24 * 4)) if rng.random() < 0.9 else None
        stopped = None
        if (final and rng.random() < 0.9) or rng.random() < 0.5:
            stopped = _edge(rng, started + _hours(rng, 0, 24 * 6))
        CaseClock.objects.create(
            case=case,
            stage=stage,
            started_at=started,
            due_at=due,
            stopped_at=stopped,
            stopped_by=rng.choice([self.people.verifier, self.people.grid_worker])
            if stopped
            else None,
            on_time=None if stopped is None else bool(due and stopped <= due),
        )


# ---------------------------------------------------------------- reports to compare


# (period, evaluation instant): past periods, running ones, instants at a midnight and in a day.
def _periods() -> list[tuple[kpis.Period, datetime]]:
    day = kpis.period_of(PeriodKind.DAY, local(2026, 11, 10).date())
    week = kpis.period_of(PeriodKind.WEEK, local(2026, 11, 18).date())
    month = kpis.period_of(PeriodKind.MONTH, local(2026, 11, 15).date())
    quarter = kpis.period_of(PeriodKind.QUARTER, local(2026, 11, 15).date())
    year = kpis.period_of(PeriodKind.YEAR, local(2026, 6, 1).date())
    return [
        (day, local(2026, 11, 10, 15, 30)),
        (week, local(2026, 11, 19, 0)),
        (month, local(2026, 11, 20, 12)),
        (month, local(2026, 12, 5, 9)),
        (quarter, local(2026, 12, 24, 17)),
        (year, local(2026, 12, 31, 23, 59)),
        (year, local(2027, 1, 1)),
    ]


def _scopes(world: World) -> list[Scope]:
    return [
        Scope(everything=True),
        Scope(regions=(world.town,)),
        Scope(regions=(world.city,)),
        Scope(regions=(world.town, world.other_town)),
        Scope(regions=(world.village,)),
        Scope(organisations=(world.sanitation.pk,)),
        Scope(regions=(world.other_town,), organisations=(world.sanitation.pk,)),
    ]


def _filters(world: World) -> list[KpiFilters]:
    major = Category.objects.filter(parent__isnull=True).order_by("pk").first()
    assert major is not None
    return [
        KpiFilters(),
        KpiFilters(region=world.town.code),
        KpiFilters(region=world.city.code),
        KpiFilters(region=world.village.code),
        KpiFilters(region="999999"),
        KpiFilters(source=Source.HOTLINE),
        KpiFilters(category=major.full_code),
        KpiFilters(category="0102"),
        KpiFilters(region=world.other_town.code, source=Source.GRID_WORKER, category="0102"),
        KpiFilters(org=world.sanitation.code),
    ]


def _reports(world: World) -> Iterator[dict[str, Any]]:
    """For every period and dimension: the report as a whole, with one of the filters and in one
    of the scopes (in turn, so that every pair comes up); the indicator set of every role."""
    filters, scopes = _filters(world), _scopes(world)
    dimensions = list(Dimension)
    for p, (period, now) in enumerate(_periods()):
        for d, group_by in enumerate(dimensions):
            spec: dict[str, Any] = {"period": period, "now": now, "group_by": group_by}
            yield spec
            yield {**spec, "filters": filters[(p + d) % len(filters)]}
            yield {**spec, "scope": scopes[(2 * p + d) % len(scopes)]}
        for r, role in enumerate(kpis.ROLE_INDICATORS):
            yield {
                "period": period,
                "now": now,
                "group_by": dimensions[(p + r) % len(dimensions)],
                "indicators": kpis.indicators_for(role=role),
            }


def assert_marks_follow_their_case() -> None:
    """Clocks and dispatch records carry their case's `kpi_settled_at`, always."""
    for model in (CaseClock, Dispatch):
        differ = model.objects.exclude(kpi_settled_at=F("case__kpi_settled_at")).exclude(
            kpi_settled_at__isnull=True, case__kpi_settled_at__isnull=True
        )
        assert not differ.exists(), model


def assert_same_numbers(world: World) -> int:
    """Every report of the matrix, from the rollups and directly; returns how many read the
    rollups (so that a test knows they were used)."""
    assert_marks_follow_their_case()
    used = 0

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal used
        used += "kpirollup" in sql
        return execute(sql, params, many, context)

    everything = Scope(everything=True)
    for spec in _reports(world):
        spec.setdefault("scope", everything)
        spec.setdefault("indicators", kpis.indicators_for())
        direct = kpis.compute(rollups=False, **spec)
        with connection.execute_wrapper(spy):
            rolled = kpis.compute(**spec)
        assert _rows(rolled) == _rows(direct), spec
    return used


def _rollup_table() -> dict[tuple[Any, ...], list[int]]:
    """The rollup rows, without the ones un-rolling left at zero."""
    counters = [f"n{i}" for i in range(ROLLUP_COUNTERS)]
    table = {}
    for row in KpiRollup.objects.values_list(*kpi_rollups.KEY, *counters):
        key, values = row[: len(kpi_rollups.KEY)], list(row[len(kpi_rollups.KEY) :])
        if any(values):
            table[key] = values
    return table


@pytest.fixture
def city(people: People, world: World) -> RandomCity:
    return RandomCity(people, world, seed=2026)


# ---------------------------------------------------------------- the tests


def test_rollups_give_the_direct_numbers_before_during_and_after_rolling(
    world: World, city: RandomCity
) -> None:
    assert assert_same_numbers(world) > 0  # an empty rollup table: all computed directly

    first = roll(now=local(2026, 12, 1))
    assert 0 < first.cases < Case.objects.filter(state__in=["closed", "rejected", "merged"]).count()
    assert assert_same_numbers(world) > 0

    later = roll(now=local(2027, 6, 1))
    assert later.cases > 0
    rolled = Case.objects.filter(kpi_settled_at__isnull=False)
    assert rolled.count() == first.cases + later.cases
    assert assert_same_numbers(world) > 0

    # Un-rolled (as a change would), the rest still adds up, and rolling again is exact.
    table = _rollup_table()
    some = list(rolled.order_by("?").values_list("pk", flat=True)[:25])
    for pk in some:
        assert unroll(pk) is True
        assert unroll(pk) is False  # once
    assert assert_same_numbers(world) > 0
    assert roll(now=local(2027, 6, 1)).cases == len(some)
    assert _rollup_table() == table  # rolled again: the sums they had


def test_a_rolled_case_counts_from_its_rollup_not_its_rows(world: World, city: RandomCity) -> None:
    """The rollups are really read: a rolled case changed behind the services' back (never done
    for real) shows the rollup's numbers, while the direct computation sees the change."""
    roll(now=local(2027, 6, 1))
    case = Case.objects.filter(
        kpi_settled_at__isnull=False, state=State.CLOSED, due_at__month=11, due_at__year=2026
    ).first()
    assert case is not None
    spec: dict[str, Any] = {
        "scope": Scope(everything=True),
        "period": kpis.period_of(PeriodKind.MONTH, local(2026, 11, 1).date()),
        "indicators": kpis.indicators_for(["closure_rate"]),
        "now": local(2027, 6, 1),
    }
    before = _rows(kpis.compute(**spec))
    Case.objects.filter(pk=case.pk).update(state=State.SUSPENDED)
    assert _rows(kpis.compute(**spec)) == before
    assert _rows(kpis.compute(rollups=False, **spec)) != before
    Case.objects.filter(pk=case.pk).update(state=State.CLOSED)  # and back: the same again
    assert _rows(kpis.compute(rollups=False, **spec)) == before


def test_rolling_is_idempotent_and_a_rebuild_gives_the_same_rollups(
    world: World, city: RandomCity
) -> None:
    now = local(2027, 6, 1)
    done = roll(now=now)
    assert done.cases > 0 and done.rows > 0
    table = _rollup_table()
    assert roll(now=now) == kpi_rollups.RollResult(0, 0)
    assert _rollup_table() == table
    # Rolled in small batches, or one case at a time after un-rolling: the same sums.
    for pk in Case.objects.filter(kpi_settled_at__isnull=False).values_list("pk", flat=True):
        unroll(pk)
    assert _rollup_table() == {}
    assert not CaseClock.objects.filter(kpi_settled_at__isnull=False).exists()
    assert not Dispatch.objects.filter(kpi_settled_at__isnull=False).exists()
    assert roll(now=now, batch=7).cases == done.cases
    assert _rollup_table() == table
    assert_marks_follow_their_case()


def test_only_settled_cases_are_rolled(world: World, city: RandomCity) -> None:
    now = local(2026, 12, 20)
    roll(now=now)
    rolled = Case.objects.filter(kpi_settled_at__isnull=False)
    assert rolled.exists()
    quiet = now - timedelta(days=kpi_rollups.quiet_days())
    for case in rolled:
        assert case.state in ("closed", "rejected", "merged")
        assert case.updated_at < quiet
        assert case.kpi_settled_at is not None and case.kpi_settled_at < now
        instants = [case.reported_at, case.due_at, case.closed_at, case.disposed_at, case.rated_at]
        for c in case.clocks.all():
            assert c.stopped_at is not None
            instants += [c.due_at, c.stopped_at]
        instants += [d.at for d in case.dispatches.all()]
        assert case.kpi_settled_at == max(t for t in instants if t is not None)
    waiting = Case.objects.filter(kpi_settled_at__isnull=True, state="closed")
    assert waiting.filter(Q(updated_at__gte=quiet) | Q(clocks__stopped_at__isnull=True)).exists()


def test_a_row_settles_with_the_last_instant_compared_with_the_evaluation_instant() -> None:
    """Found in the conditions themselves: a condition added later that compares another
    instant with T is taken into account without anyone listing it."""
    assert kpis.SETTLE_FIELDS == {
        "due": ("closed_at", "disposed_at", "due_at"),
        "hotline_reported": ("reported_at",),
        "grid_reports": ("reported_at",),
        "rated_hotline": ("rated_at",),
        "verify": ("due_at", "stopped_at"),
        "check": ("due_at", "stopped_at"),
        "dispatches": ("at",),
    }
    assert all(len(layout.conditions) <= ROLLUP_COUNTERS for layout in kpis.ROLLUP_LAYOUTS.values())
    odd = kpis.Family("odd", kpis.Base.CLOCK, "due_at", lambda t: Q(case__closed_at__lt=t))
    with pytest.raises(ValueError):
        kpis.compared_fields(odd)


def test_which_reports_read_the_rollups(world: World) -> None:
    everything = Scope(everything=True)
    plan = kpis.rollup_plan
    assert plan(Dimension.NONE, everything, KpiFilters()) is not None
    assert plan(Dimension.TOWN, Scope(regions=(world.city,)), KpiFilters()) is not None
    assert plan(Dimension.NONE, everything, KpiFilters(region=world.town.code)) is not None
    for group_by in set(Dimension) - {Dimension.NONE, Dimension.TOWN}:
        assert plan(group_by, everything, KpiFilters()) is None
    assert plan(Dimension.NONE, Scope(regions=(world.village,)), KpiFilters()) is None
    assert plan(Dimension.NONE, Scope(organisations=(world.sanitation.pk,)), KpiFilters()) is None
    for filters in (
        KpiFilters(org=world.sanitation.code),
        KpiFilters(region=world.grid.code),
        KpiFilters(source=Source.HOTLINE),
        KpiFilters(category="0102"),
    ):
        assert plan(Dimension.NONE, everything, filters) is None


# ---------------------------------------------------------------- through the services


def _settled_case(people: People, world: World) -> Case:
    with clock.frozen(local(2026, 11, 2, 9)):
        case = case_in(State.CLOSED, people, world)
    roll(now=local(2026, 12, 20))
    case.refresh_from_db()
    assert case.kpi_settled_at is not None
    assert case.clocks.exists() and case.dispatches.exists()
    assert_marks_follow_their_case()
    return case


def _november_report(now: datetime, **kw: Any) -> Rows:
    return _rows(
        kpis.compute(
            scope=Scope(everything=True),
            period=kpis.period_of(PeriodKind.MONTH, local(2026, 11, 1).date()),
            indicators=kpis.indicators_for(),
            now=now,
            **kw,
        )
    )


def test_a_settled_case_reopened_by_the_centre_leaves_the_rollups(
    people: People, world: World
) -> None:
    case = _settled_case(people, world)
    now = local(2026, 12, 21, 10)
    before = _november_report(now)
    assert before == _november_report(now, rollups=False)
    assert before[0][2]["closure_rate"] == (1, 1)
    with clock.frozen(now):
        services.case_reopen(case=case, by=people.clerk, note="群众再次反映")
    case.refresh_from_db()
    assert case.state == State.REOPENED and case.kpi_settled_at is None
    assert_marks_follow_their_case()
    after = _november_report(now)
    assert after == _november_report(now, rollups=False)
    # Its closed cycle keeps November's numbers (computed from the cycle's row, never rolled).
    assert after == before
    assert list(case.cycles.values_list("cycle", "state")) == [(1, State.CLOSED)]
    assert _rollup_table() == {}  # it was the only case


def test_a_rating_recorded_on_a_case_rolled_since_it_was_read_is_counted(
    people: People, world: World
) -> None:
    """The service read the case before the worker rolled it: its compare-and-swap does not
    match a rolled case, so it locks and un-rolls it, then applies the rating."""
    with clock.frozen(local(2026, 11, 2, 9)):
        case = case_in(State.CLOSED, people, world)
    Case.objects.filter(pk=case.pk).update(source=Source.HOTLINE)  # a 12345 case, for 满意率
    stale = Case.objects.get(pk=case.pk)
    assert roll(now=local(2026, 12, 20)).cases == 1
    assert stale.kpi_settled_at is None
    at = local(2026, 12, 22, 10)
    with clock.frozen(at):
        services.case_rate(case=stale, by=people.clerk, satisfaction=Satisfaction.SATISFIED)
    case.refresh_from_db()
    assert case.kpi_settled_at is None and case.rated_at == at
    assert_marks_follow_their_case()
    assert _rollup_table() == {}
    spec: dict[str, Any] = {
        "scope": Scope(everything=True),
        "period": kpis.period_of(PeriodKind.MONTH, at.date()),
        "indicators": kpis.indicators_for(["satisfaction_rate"]),
        "now": local(2027, 1, 2),
    }
    assert _rows(kpis.compute(**spec))[0][2]["satisfaction_rate"] == (1, 1)
    assert _rows(kpis.compute(**spec)) == _rows(kpis.compute(rollups=False, **spec))
    # Rolled again once quiet: the same numbers from the rollups.
    assert roll(now=local(2027, 1, 2)).cases == 1
    assert _rows(kpis.compute(**spec)) == _rows(kpis.compute(rollups=False, **spec))
    assert _november_report(at) == _november_report(at, rollups=False)


def test_a_stale_transition_still_conflicts(people: People, world: World) -> None:
    case = _settled_case(people, world)
    stale = Case.objects.get(pk=case.pk)
    with clock.frozen(local(2026, 12, 21, 10)):
        services.case_reopen(case=case, by=people.clerk, note="群众再次反映")
        with pytest.raises(services.DomainError) as raised:
            services.case_reopen(case=stale, by=people.clerk, note="又一次")
    assert raised.value.code == "case_conflict"


def test_the_worker_command(world: World, city: RandomCity) -> None:
    out = io.StringIO()
    call_command("kpi_rollup", stdout=out)
    rolled = Case.objects.filter(kpi_settled_at__isnull=False).count()
    assert rolled > 0
    assert out.getvalue().strip() == f"kpi rollup: {rolled} cases, {_rollup_keys()} rollup rows"
    out = io.StringIO()
    call_command("kpi_rollup", stdout=out)
    assert out.getvalue().strip() == "kpi rollup: 0 cases, 0 rollup rows"
    out = io.StringIO()
    call_command("kpi_rollup", "--rebuild", "--batch", "10", stdout=out)
    assert out.getvalue().strip() == f"kpi rollup: {rolled} cases, {_rollup_keys()} rollup rows"


def _rollup_keys() -> int:
    return KpiRollup.objects.count()


# ---------------------------------------------------------------- PostgreSQL: two workers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_roll_each_case_once(people: People, world: World, workcal: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    RandomCity(people, world, seed=7, count=300)
    now = local(2027, 6, 1)
    results: list[kpi_rollups.RollResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        try:
            barrier.wait()
            results.append(roll(now=now, batch=5))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rolled = Case.objects.filter(kpi_settled_at__isnull=False).count()
    assert sum(r.cases for r in results) == rolled > 0
    table = _rollup_table()
    for pk in Case.objects.filter(kpi_settled_at__isnull=False).values_list("pk", flat=True):
        unroll(pk)
    assert _rollup_table() == {}
    roll(now=now)
    assert _rollup_table() == table  # as one worker alone
    assert assert_same_numbers(world) > 0
