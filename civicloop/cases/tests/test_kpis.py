"""Indicators on a hand-built set of cases whose values are known (November 2026, 稠城街道),
including the exclusion of 缓办 from 应结案数; drill-down, scope, export and the API."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from civicloop.accounts.models import Organisation
from civicloop.cases import kpis
from civicloop.cases.kpis import Dimension, KpiFilters, Part, PeriodKind, Scope
from civicloop.cases.models import (
    Case,
    CaseClock,
    Category,
    ClosureReason,
    Dispatch,
    DispatchOutcome,
    Satisfaction,
    Source,
    Stage,
    State,
)
from civicloop.cases.tests.conftest import local
from civicloop.conftest import People, World
from civicloop.lib import clock

pytestmark = pytest.mark.usefixtures("categories")

NOVEMBER = kpis.period_of(PeriodKind.MONTH, local(2026, 11, 15).date())
AFTER = local(2026, 12, 5, 9)  # evaluated after the month ended


class Cases:
    """The November set; each case is named by its letter (see docs/kpis.md, "Worked example")."""

    def __init__(self, people: People, world: World) -> None:
        self.people, self.world = people, world
        self.count = 0
        self.by_letter: dict[str, Case] = {}

    def make(self, letter: str, *, org: Organisation | None = None, **facts: Any) -> Case:
        self.count += 1
        w = self.world
        grid, village, town = (
            (w.other_grid, w.other_grid.parent, w.other_town)
            if facts.pop("elsewhere", False)
            else (w.grid, w.village, w.town)
        )
        facts.setdefault("state", State.CLOSED)
        facts.setdefault("source", Source.RESIDENT)
        facts.setdefault("reported_at", local(2026, 11, 1, 9))
        facts.setdefault("filed_at", facts["reported_at"])
        case = Case.objects.create(
            number=f"YW2026110{self.count:05d}",
            category=Category.objects.get(kind="event", full_code="0102"),
            description=f"案例{letter}",
            lat=29.305,
            lon=120.075,
            city=w.city,
            town=town,
            village=village,
            grid=grid,
            reporter=facts.pop("reporter", self.people.resident),
            assigned_org=org if org is not None else w.sanitation,
            updated_at=facts["reported_at"],
            **facts,
        )
        self.by_letter[letter] = case
        return case

    def numbers(self, letters: str) -> set[str]:
        return {self.by_letter[x].number for x in letters}


def _closed(day: int, *, on_time: bool = True, **kw: Any) -> dict[str, Any]:
    due = local(2026, 11, day, 17)
    done = local(2026, 11, day, 10) if on_time else local(2026, 11, day + 1, 10)
    return {
        "due_at": due,
        "disposed_at": done,
        "closed_at": done,
        "on_time": on_time,
        "closure_reason": ClosureReason.FIXED,
        **kw,
    }


@pytest.fixture
def november(people: People, world: World) -> Cases:
    c = Cases(people, world)
    c.make("A", **_closed(10))
    c.make("B", **_closed(12, on_time=False, rework_count=1))
    c.make("C", org=world.parks, **_closed(15))
    c.make("D", state=State.SUSPENDED, due_at=local(2026, 11, 20, 17))  # 缓办: excluded
    c.make("E", state=State.ACCEPTED, due_at=local(2026, 11, 25, 17))  # overdue, not disposed
    c.make(
        "F",
        state=State.SUBMITTED,
        due_at=local(2026, 11, 28, 17),
        disposed_at=local(2026, 11, 27, 9),
    )
    c.make("G", state=State.REJECTED, due_at=local(2026, 11, 5, 17))  # rejected: not due
    c.make("H", **_closed(3), reported_at=local(2026, 12, 1, 9))  # due in December
    c.make(
        "I",
        due_at=local(2026, 11, 29, 17),
        disposed_at=local(2026, 11, 28, 9),
        closed_at=local(2026, 12, 2, 9),  # closed after the month
        on_time=True,
    )
    c.make(
        "J",
        source=Source.HOTLINE,
        intake_on_time=True,
        satisfaction=Satisfaction.SATISFIED,
        rated_at=local(2026, 11, 19, 9),
        **_closed(18),
    )
    c.make(
        "K",
        source=Source.HOTLINE,
        intake_on_time=False,
        satisfaction=Satisfaction.DISSATISFIED,
        rated_at=local(2026, 11, 23, 9),
        **_closed(22, closure_reason=ClosureReason.NO_FURTHER_ACTION),
    )
    c.make("L", elsewhere=True, org=world.other_sanitation, **_closed(11))
    # A 12345 call still waiting for intake, already overdue: it counts against 响应率.
    c.make("R", source=Source.HOTLINE, state=State.REPORTED, filed_at=None, sla_level=2)
    # H is due in December: move its dates there.
    Case.objects.filter(pk=c.by_letter["H"].pk).update(
        due_at=local(2026, 12, 3, 17), closed_at=local(2026, 12, 3, 10)
    )
    _grid_reports(c)
    _clocks(c)
    _dispatches(c)
    return c


def _grid_reports(c: Cases) -> None:
    worker = c.people.grid_worker
    reports: dict[str, Any] = {"source": Source.GRID_WORKER, "reporter": worker, "due_at": None}
    c.make("M", state=State.FILED, **reports)  # valid
    c.make("N", state=State.REJECTED, filed_at=None, **reports)  # invalid
    c.make("O", state=State.MERGED, filed_at=None, **reports)  # a duplicate
    c.make("P", state=State.REPORTED, filed_at=None, **reports)  # not decided yet
    c.make("Q", state=State.DRAFT, filed_at=None, **reports)  # not a report yet


def _clock(case: Case, stage: Stage, due: datetime, **kw: Any) -> CaseClock:
    return CaseClock.objects.create(
        case=case, stage=stage, started_at=local(2026, 11, 1, 9), due_at=due, **kw
    )


def _clocks(c: Cases) -> None:
    worker, verifier = c.people.grid_worker, c.people.verifier
    stopped = local(2026, 11, 2, 9)
    _clock(
        c.by_letter["M"],
        Stage.VERIFY,
        local(2026, 11, 2, 12),
        stopped_at=stopped,
        stopped_by=worker,
        on_time=True,
    )
    _clock(
        c.by_letter["N"],
        Stage.VERIFY,
        local(2026, 11, 2, 8),
        stopped_at=stopped,
        stopped_by=worker,
        on_time=False,
    )
    _clock(c.by_letter["P"], Stage.VERIFY, local(2026, 11, 3, 9))  # never verified
    _clock(
        c.by_letter["A"],
        Stage.CHECK,
        local(2026, 11, 11, 9),
        stopped_at=stopped,
        stopped_by=verifier,
        on_time=True,
    )
    _clock(
        c.by_letter["B"],
        Stage.CHECK,
        local(2026, 11, 14, 9),
        stopped_at=stopped,
        stopped_by=verifier,
        on_time=True,
    )


def _dispatches(c: Cases) -> None:
    outcomes = [
        DispatchOutcome.CLAIMED,
        DispatchOutcome.RETURNED,
        DispatchOutcome.RECALLED,
        DispatchOutcome.PENDING,
    ]
    for letter, outcome in zip("ABCE", outcomes, strict=True):
        Dispatch.objects.create(
            case=c.by_letter[letter],
            organisation=c.world.sanitation,
            by=c.people.dispatcher,
            at=local(2026, 11, 2, 9),
            outcome=outcome,
        )


def _values(report: kpis.Report) -> dict[str, dict[str, tuple[int, int, float | None]]]:
    return {
        row.label: {code: (v.numerator, v.denominator, v.rate) for code, v in row.values.items()}
        for row in report.rows
    }


def _town_scope(world: World) -> Scope:
    return Scope(regions=(world.town,))


def test_the_november_indicators(world: World, november: Cases) -> None:
    report = kpis.compute(
        scope=_town_scope(world),
        period=NOVEMBER,
        indicators=kpis.indicators_for(),
        now=AFTER,
    )
    assert _values(report) == {
        "全部": {
            # 应结案 A B C D E F I J K = 9, 缓办 D = 1, so 8; closed by 1 Dec: A B C J K.
            "closure_rate": (5, 8, 0.625),
            "on_time_closure_rate": (4, 8, 0.5),
            "rework_rate": (1, 5, 0.2),
            "first_time_rate": (4, 5, 0.8),
            # Disposed: A B C F I J K; by the deadline: all but B.
            "disposal_rate": (7, 8, 0.875),
            "on_time_disposal_rate": (6, 8, 0.75),
            "dispatch_accuracy": (2, 4, 0.5),
            "valid_report_rate": (1, 3, 0.3333),
            "on_time_verify_rate": (1, 3, 0.3333),
            "on_time_check_rate": (2, 2, 1.0),
            "response_rate": (1, 3, 0.3333),  # J in time; K late; R waiting, overdue
            "solve_rate": (1, 2, 0.5),
            "satisfaction_rate": (1, 2, 0.5),
        }
    }


def test_suspended_cases_leave_the_denominator(world: World, november: Cases) -> None:
    closure = [kpis.INDICATORS["closure_rate"]]
    before = kpis.compute(scope=_town_scope(world), period=NOVEMBER, indicators=closure, now=AFTER)
    Case.objects.filter(pk=november.by_letter["E"].pk).update(state=State.SUSPENDED)
    after = kpis.compute(scope=_town_scope(world), period=NOVEMBER, indicators=closure, now=AFTER)
    assert before.rows[0].values["closure_rate"].denominator == 8
    assert after.rows[0].values["closure_rate"] == kpis.Value(5, 7)


def test_during_the_month_only_what_is_due_counts(world: World, november: Cases) -> None:
    report = kpis.compute(
        scope=_town_scope(world),
        period=NOVEMBER,
        indicators=[kpis.INDICATORS["closure_rate"]],
        now=local(2026, 11, 16, 9),
    )
    # Due by 16 November: A B C (D is later); closed by then: A B C.
    assert report.rows[0].values["closure_rate"] == kpis.Value(3, 3)


def test_grouped_by_organisation_and_by_source(world: World, november: Cases) -> None:
    closure = [kpis.INDICATORS["closure_rate"], kpis.INDICATORS["solve_rate"]]
    by_org = kpis.compute(
        scope=_town_scope(world),
        period=NOVEMBER,
        indicators=closure,
        group_by=Dimension.ORG,
        now=AFTER,
    )
    assert _values(by_org) == {
        "稠城街道园林所": {"closure_rate": (1, 1, 1.0), "solve_rate": (0, 0, None)},
        "稠城街道环卫所": {"closure_rate": (4, 7, 0.5714), "solve_rate": (1, 2, 0.5)},
    }
    by_source = kpis.compute(
        scope=_town_scope(world),
        period=NOVEMBER,
        indicators=closure,
        group_by=Dimension.SOURCE,
        now=AFTER,
    )
    assert _values(by_source)["12345热线"]["closure_rate"] == (2, 2, 1.0)
    assert _values(by_source)["居民上报"]["closure_rate"] == (3, 6, 0.5)


def test_grid_workers_are_evaluated_by_person(
    people: People, world: World, november: Cases
) -> None:
    report = kpis.compute(
        scope=_town_scope(world),
        period=NOVEMBER,
        indicators=kpis.indicators_for(role="grid_worker"),
        group_by=Dimension.PERSON,
        now=AFTER,
    )
    assert _values(report) == {
        "周敏": {"on_time_check_rate": (2, 2, 1.0)},
        "李强": {"valid_report_rate": (1, 3, 0.3333), "on_time_verify_rate": (1, 2, 0.5)},
        "—": {"on_time_verify_rate": (0, 1, 0.0)},  # the report nobody has verified yet
    }


def test_scope_follows_the_role(people: People, world: World, november: Cases) -> None:
    closure = [kpis.INDICATORS["closure_rate"]]
    city = kpis.compute(
        scope=Scope(everything=True), period=NOVEMBER, indicators=closure, now=AFTER
    )
    assert city.rows[0].values["closure_rate"] == kpis.Value(6, 9)  # with 北苑's L
    unit = kpis.compute(
        scope=kpis.scope_for(people.parks_handler), period=NOVEMBER, indicators=closure, now=AFTER
    )
    assert unit.rows[0].values["closure_rate"] == kpis.Value(1, 1)
    with pytest.raises(kpis.Forbidden):
        kpis.scope_for(people.resident)


def test_filters(world: World, november: Cases) -> None:
    closure = [kpis.INDICATORS["closure_rate"]]
    hotline = kpis.compute(
        scope=Scope(everything=True),
        period=NOVEMBER,
        indicators=closure,
        filters=KpiFilters(source=Source.HOTLINE, category="01", region=world.town.code),
        now=AFTER,
    )
    assert hotline.rows[0].values["closure_rate"] == kpis.Value(2, 2)
    parks = kpis.compute(
        scope=Scope(everything=True),
        period=NOVEMBER,
        indicators=closure,
        filters=KpiFilters(org="ccjd-yl"),
        now=AFTER,
    )
    assert parks.rows[0].values["closure_rate"] == kpis.Value(1, 1)


def test_every_number_drills_down(world: World, november: Cases) -> None:
    def numbers(indicator: str, part: Part, **kw: Any) -> set[str]:
        cases = kpis.drilldown(
            scope=_town_scope(world),
            period=NOVEMBER,
            indicator=kpis.INDICATORS[indicator],
            part=part,
            now=AFTER,
            **kw,
        )
        return set(cases.values_list("number", flat=True))

    assert numbers("closure_rate", Part.NUMERATOR) == november.numbers("ABCJK")
    assert numbers("closure_rate", Part.DENOMINATOR) == november.numbers("ABCEFIJK")
    assert numbers("dispatch_accuracy", Part.NUMERATOR) == november.numbers("AE")
    assert numbers("on_time_verify_rate", Part.DENOMINATOR) == november.numbers("MNP")
    parks = str(world.parks.pk)
    assert numbers(
        "closure_rate", Part.NUMERATOR, group_by=Dimension.ORG, key=parks
    ) == november.numbers("C")


def test_periods_follow_local_days() -> None:
    day = local(2026, 11, 26).date()
    assert [
        (p.label, p.start, p.end) for p in (kpis.period_of(kind, day) for kind in PeriodKind)
    ] == [
        ("2026-11-26", local(2026, 11, 26), local(2026, 11, 27)),
        ("2026-W48", local(2026, 11, 23), local(2026, 11, 30)),
        ("2026-11", local(2026, 11, 1), local(2026, 12, 1)),
        ("2026-Q4", local(2026, 10, 1), local(2027, 1, 1)),
        ("2026", local(2026, 1, 1), local(2027, 1, 1)),
    ]


# ---------------------------------------------------------------- through the API


def _get(client: Any, path: str, **params: Any) -> Any:
    with clock.frozen(AFTER):
        return client.get(path, {"period": "month", "date": "2026-11-15", **params})


def test_the_kpi_api(people: People, world: World, november: Cases, client_for: Any) -> None:
    lead = client_for(people.shift_lead)
    body = _get(lead, "/api/v1/kpis", role="region", group_by="town").json()
    assert body["period"]["label"] == "2026-11"
    assert [i["code"] for i in body["indicators"]] == kpis.ROLE_INDICATORS["region"]
    assert body["indicators"][0] == {
        "code": "closure_rate",
        "name": "结案率",
        "formula": "结案数 ÷ (应结案数 − 缓办数)",
    }
    [row] = body["rows"]
    assert (row["key"], row["label"]) == (str(world.town.pk), "稠城街道")
    assert row["values"]["closure_rate"] == {"numerator": 5, "denominator": 8, "rate": 0.625}
    drill = _get(
        lead, "/api/v1/kpis/cases", indicator="on_time_closure_rate", part="numerator"
    ).json()
    assert {c["number"] for c in drill["items"]} == november.numbers("ACJK")
    assert drill["count"] == 4


def test_kpis_are_for_staff(people: People, world: World, client_for: Any) -> None:
    response = _get(client_for(people.resident), "/api/v1/kpis")
    assert (response.status_code, response.json()["code"]) == (403, "kpi_not_allowed")
    bad = _get(client_for(people.shift_lead), "/api/v1/kpis", indicators=["speed"])
    assert (bad.status_code, bad.json()["code"]) == (422, "kpi_indicator_invalid")


@pytest.mark.parametrize(
    ("path", "params", "code", "message"),
    [
        ("/api/v1/kpis", {"source": "fax"}, "kpi_source_invalid", "未知的来源：fax"),
        ("/api/v1/kpis", {"region": "330782999"}, "kpi_region_invalid", "未知的区域：330782999"),
        ("/api/v1/kpis", {"org": "no-such-unit"}, "kpi_org_invalid", "未知的单位：no-such-unit"),
        ("/api/v1/kpis", {"category": "9999"}, "kpi_category_invalid", "未知的类别：9999"),
        (
            "/api/v1/kpis",
            {"role": "region", "indicators": ["closure_rate"]},
            "kpi_role_and_indicators",
            "考核对象和指标只能指定其一",
        ),
        (
            "/api/v1/kpis/cases",
            {"indicator": "closure_rate", "source": "fax"},
            "kpi_source_invalid",
            "未知的来源：fax",
        ),
        (
            "/api/v1/kpis/export",
            {"format": "pdf"},
            "kpi_format_invalid",
            "导出格式只能是 csv 或 xlsx",
        ),
    ],
)
def test_a_filter_naming_nothing_is_refused(
    people: People,
    world: World,
    november: Cases,
    client_for: Any,
    path: str,
    params: dict[str, Any],
    code: str,
    message: str,
) -> None:
    """A misspelt code gives an error, not a report of zeros that looks like a real one."""
    response = _get(client_for(people.shift_lead), path, **params)
    assert (response.status_code, response.json()) == (422, {"code": code, "message": message})


def test_filters_naming_what_exists_narrow_the_report(
    people: People, world: World, november: Cases, client_for: Any
) -> None:
    lead = client_for(people.shift_lead)
    for params in (
        {"source": "resident"},
        {"region": world.town.code},
        {"org": world.town_centre.code},
        {"category": "0102"},
    ):
        response = _get(lead, "/api/v1/kpis", **params)
        assert response.status_code == 200, (params, response.content)


def test_csv_and_xlsx_exports(
    people: People, world: World, november: Cases, client_for: Any
) -> None:
    lead = client_for(people.shift_lead)
    response = _get(lead, "/api/v1/kpis/export", format="csv", role="hotline")
    assert response["Content-Disposition"] == 'attachment; filename="kpis-2026-11.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        ["考核期", "2026-11"],
        [
            "对象",
            "响应率（12345）·分子",
            "响应率（12345）·分母",
            "响应率（12345）",
            "解决率（12345）·分子",
            "解决率（12345）·分母",
            "解决率（12345）",
            "满意率（12345）·分子",
            "满意率（12345）·分母",
            "满意率（12345）",
        ],
        ["全部", "1", "3", "0.3333", "1", "2", "0.5", "1", "2", "0.5"],
    ]
    xlsx = _get(lead, "/api/v1/kpis/export", format="xlsx", role="dispatcher", group_by="person")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert [[c.value for c in r] for r in sheet.iter_rows()] == [
        ["对象", "派遣准确率·分子", "派遣准确率·分母", "派遣准确率"],
        ["张伟", 2, 4, 0.5],
    ]
    assert sheet["D2"].number_format == "0.00%"


def test_facts_written_by_the_services_are_counted(people: People, world: World) -> None:
    """The same numbers from cases walked through the real services."""
    from civicloop.cases import services
    from civicloop.cases.tests.journeys import photo, reported

    with clock.frozen(local(2026, 11, 26, 9)):
        done, waiting = reported(people), reported(people)
        for case in (done, waiting):
            services.case_file(case=case, by=people.clerk)
            services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
            services.case_claim(case=case, by=people.handler)
        services.case_submit(case=done, by=people.handler, photos=[photo(1)])
        services.case_check(case=done, by=people.verifier, passed=True)
        services.case_close(case=done, by=people.shift_lead)
        services.case_request_suspension(case=waiting, by=people.handler, note="等待产权确认")
        services.case_decide_suspension(case=waiting, by=people.dispatcher, approve=True)
    report = kpis.compute(
        scope=_town_scope(world),
        period=NOVEMBER,
        indicators=kpis.indicators_for(["closure_rate", "on_time_closure_rate"]),
        now=AFTER,
    )
    assert _values(report) == {
        "全部": {"closure_rate": (1, 1, 1.0), "on_time_closure_rate": (1, 1, 1.0)}
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_families_computed_concurrently_give_the_same_numbers(
    world: World, november: Cases, settings: Any
) -> None:
    """On PostgreSQL, outside a transaction, the family queries run in parallel connections."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the concurrent path is PostgreSQL's")
    indicators = kpis.indicators_for()
    reports = {}
    for workers in (4, 1):
        settings.KPI_CONCURRENCY = workers
        assert kpis.concurrency(7) == min(workers, 7)
        reports[workers] = [
            _values(
                kpis.compute(
                    scope=_town_scope(world),
                    period=NOVEMBER,
                    indicators=indicators,
                    group_by=group_by,
                    now=AFTER,
                )
            )
            for group_by in (Dimension.NONE, Dimension.ORG, Dimension.SOURCE)
        ]
    assert reports[4] == reports[1]
    assert reports[4][0]["全部"]["closure_rate"] == (5, 8, 0.625)
    assert reports[4][0]["全部"]["satisfaction_rate"] == (1, 2, 0.5)


def test_a_counter_evaluates_each_term_once() -> None:
    """A numerator repeats its denominator (返工: 结案 AND 结案 AND rework); the counter keeps
    each term once, in order, with negations and alternatives untouched."""
    until = AFTER
    rework = kpis.INDICATORS["rework_rate"]
    condition = kpis._conjunction(rework.denominator(until) & rework.numerator(until))
    assert condition.children == [
        ("closed_at__lt", until),
        ("state", State.CLOSED),
        ("rework_count__gt", 0),
    ]
    solve = kpis.INDICATORS["solve_rate"]
    condition = kpis._conjunction(solve.denominator(until) & solve.numerator(until))
    assert condition.children[0] == ~kpis.Q(state=State.SUSPENDED)
    assert condition.children[1:] == [
        ("source", Source.HOTLINE),
        ("closed_at__lt", until),
        ("state", State.CLOSED),
        ("closure_reason", ClosureReason.FIXED),
    ]
    valid = kpis.INDICATORS["valid_report_rate"]
    either = valid.denominator(until)
    assert kpis._conjunction(either) == kpis.Q(either)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_report_inside_a_transaction_leaves_its_settings_alone(
    world: World, november: Cases
) -> None:
    """Each family query runs without JIT and with a larger work_mem (SET LOCAL); inside the
    caller's transaction (this test's) the caller's values are put back afterwards."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("planner settings are PostgreSQL's")
    assert connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', '5MB', true), set_config('jit', 'on', true)")
        report = kpis.compute(
            scope=_town_scope(world),
            period=NOVEMBER,
            indicators=kpis.indicators_for(["closure_rate", "on_time_check_rate"]),
            now=AFTER,
        )
        cursor.execute("SELECT current_setting('work_mem'), current_setting('jit')")
        assert cursor.fetchone() == ("5MB", "on")
    assert _values(report)["全部"]["closure_rate"] == (5, 8, 0.625)


# ---------------------------------------------------------------- reopened cases

DECEMBER = kpis.period_of(PeriodKind.MONTH, local(2026, 12, 15).date())
CYCLE_INDICATORS = [
    "closure_rate",
    "on_time_closure_rate",
    "rework_rate",
    "disposal_rate",
    "solve_rate",
    "satisfaction_rate",
]


def _handled(case: Case, people: People, world: World, *, rework: bool = False) -> None:
    from civicloop.cases import services
    from civicloop.cases.tests.journeys import photo

    services.case_file(case=case, by=people.clerk)
    services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
    services.case_claim(case=case, by=people.handler)
    services.case_submit(case=case, by=people.handler, photos=[photo(1)])
    if rework:
        services.case_check(case=case, by=people.verifier, passed=False, note="仍有残留")
        services.case_submit(case=case, by=people.handler, photos=[photo(2)])
    services.case_check(case=case, by=people.verifier, passed=True)
    services.case_close(case=case, by=people.shift_lead)


def _cycle_numbers(world: World, period: kpis.Period, now: datetime) -> dict[str, Any]:
    report = kpis.compute(
        scope=_town_scope(world),
        period=period,
        indicators=kpis.indicators_for(CYCLE_INDICATORS),
        now=now,
    )
    return _values(report)["全部"]


def test_a_reopened_case_keeps_the_numbers_of_its_closed_cycle(
    people: People, world: World
) -> None:
    """A 12345 case closed on time and rated 满意 in November, reopened by the centre in December,
    handled again with one rework and rated 不满意: November keeps its numbers (the closed
    cycle's facts are kept), December counts the second cycle."""
    from civicloop.cases import services
    from civicloop.cases.tests.journeys import reported

    with clock.frozen(local(2026, 11, 26, 9)):
        case = reported(people)
        Case.objects.filter(pk=case.pk).update(source=Source.HOTLINE)
        case.refresh_from_db()
        _handled(case, people, world)
    with clock.frozen(local(2026, 11, 27, 10)):
        services.case_rate(case=case, by=people.clerk, satisfaction=Satisfaction.SATISFIED)
    november = {
        "closure_rate": (1, 1, 1.0),
        "on_time_closure_rate": (1, 1, 1.0),
        "rework_rate": (0, 1, 0.0),
        "disposal_rate": (1, 1, 1.0),
        "solve_rate": (1, 1, 1.0),
        "satisfaction_rate": (1, 1, 1.0),
    }
    assert _cycle_numbers(world, NOVEMBER, AFTER) == november
    first_due = case.due_at

    with clock.frozen(local(2026, 12, 1, 9)):
        services.case_reopen(case=case, by=people.clerk, note="群众反映垃圾又堆回来了")
    case.refresh_from_db()
    assert (case.state, case.closed_at, case.rated_at, case.satisfaction) == (
        State.REOPENED,
        None,
        None,
        "",
    )
    assert _cycle_numbers(world, NOVEMBER, AFTER) == november
    # Waiting to be filed again, it is due in no period.
    assert _cycle_numbers(world, DECEMBER, local(2027, 1, 5))["closure_rate"] == (0, 0, None)

    with clock.frozen(local(2026, 12, 1, 10)):
        _handled(case, people, world, rework=True)
    with clock.frozen(local(2026, 12, 2, 10)):
        services.case_rate(case=case, by=people.clerk, satisfaction=Satisfaction.DISSATISFIED)
    case.refresh_from_db()
    assert case.due_at is not None and first_due is not None and case.due_at > first_due
    assert _cycle_numbers(world, NOVEMBER, AFTER) == november
    assert _cycle_numbers(world, DECEMBER, local(2027, 1, 5)) == {
        "closure_rate": (1, 1, 1.0),
        "on_time_closure_rate": (1, 1, 1.0),
        "rework_rate": (1, 1, 1.0),
        "disposal_rate": (1, 1, 1.0),
        "solve_rate": (1, 1, 1.0),
        "satisfaction_rate": (0, 1, 0.0),
    }
    cycle = case.cycles.get()
    assert (cycle.cycle, cycle.state, cycle.due_at, cycle.rework_count, cycle.satisfaction) == (
        1,
        State.CLOSED,
        first_due,
        0,
        Satisfaction.SATISFIED,
    )
    assert cycle.reopened_at == local(2026, 12, 1, 9)
    assert cycle.closed_at == local(2026, 11, 26, 9)
    assert cycle.assigned_org_id == world.sanitation.pk
    # By organisation: the unit that closed the first cycle keeps it (the case has no unit now).
    by_org = kpis.compute(
        scope=_town_scope(world),
        period=NOVEMBER,
        indicators=kpis.indicators_for(["closure_rate"]),
        group_by=Dimension.ORG,
        now=AFTER,
    )
    assert [(r.key, r.values["closure_rate"].numerator) for r in by_org.rows] == [
        (world.sanitation.pk, 1)
    ]
    # The November numbers drill down to the case, by organisation too.
    for group_by, key in ((Dimension.NONE, None), (Dimension.ORG, str(world.sanitation.pk))):
        behind = kpis.drilldown(
            scope=_town_scope(world),
            period=NOVEMBER,
            indicator=kpis.INDICATORS["satisfaction_rate"],
            part=Part.NUMERATOR,
            group_by=group_by,
            key=key,
            now=AFTER,
        )
        assert [c.number for c in behind] == [case.number]

    # Reopened again (by the reporter, within the window): a second cycle is kept.
    with clock.frozen(local(2026, 12, 3, 9)):
        services.case_reopen(case=case, by=people.resident, note="还是没清理干净")
    assert list(case.cycles.values_list("cycle", "rework_count", "satisfaction")) == [
        (1, 0, Satisfaction.SATISFIED),
        (2, 1, Satisfaction.DISSATISFIED),
    ]
    assert _cycle_numbers(world, NOVEMBER, AFTER) == november
    assert _cycle_numbers(world, DECEMBER, local(2027, 1, 5))["satisfaction_rate"] == (0, 1, 0.0)


def test_a_reopen_that_loses_the_race_keeps_no_cycle(people: People, world: World) -> None:
    from civicloop.cases import services
    from civicloop.cases.tests.journeys import reported

    with clock.frozen(local(2026, 11, 26, 9)):
        case = reported(people)
        _handled(case, people, world)
    stale = Case.objects.get(pk=case.pk)
    with clock.frozen(local(2026, 11, 27, 9)):
        services.case_reopen(case=case, by=people.clerk, note="群众再次反映")
        with pytest.raises(services.DomainError) as raised:
            services.case_reopen(case=stale, by=people.clerk, note="又一次")
    assert raised.value.code == "case_conflict"
    assert list(case.cycles.values_list("cycle", flat=True)) == [1]
