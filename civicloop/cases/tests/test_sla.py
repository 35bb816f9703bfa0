"""Deadlines in working time over the real calendar (seeded from chinese-calendar): weekends, the
National Day week, a 调休 Saturday; rule versions and overrides; pause and resume; rework;
extension; frozen facts."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest

from civicloop.cases import services, sla
from civicloop.cases.errors import Code
from civicloop.cases.models import (
    Case,
    CaseClock,
    CaseEvent,
    Category,
    LimitUnit,
    ReturnReason,
    Stage,
    State,
    TimeLimit,
    TimeLimitVersion,
    Urgency,
    WorkingPeriod,
)
from civicloop.cases.tests.conftest import local
from civicloop.cases.tests.journeys import photo
from civicloop.cases.workdays import calendar_day_set, working_periods_set
from civicloop.conftest import IN_GRID, IN_OTHER_TOWN, People, World
from civicloop.lib import clock
from civicloop.lib.errors import DomainError

pytestmark = pytest.mark.usefixtures("categories", "workcal")


def _category(code: str = "0102") -> Category:
    return Category.objects.get(kind="event", full_code=code)


def _report(people: People, at: datetime, *, code: str = "0102", where=IN_GRID) -> Case:
    with clock.frozen(at):
        return services.case_report(
            by=people.resident,
            category=_category(code),
            description="桥头垃圾堆放",
            lat=where[0],
            lon=where[1],
        )


def _filed(
    people: People, at: datetime, *, code: str = "0102", urgency: Urgency | None = None
) -> Case:
    case = _report(people, at, code=code)
    with clock.frozen(at):
        services.case_file(case=case, by=people.clerk, urgency=urgency)
    case.refresh_from_db()
    return case


def _clock(case: Case, stage: Stage) -> CaseClock:
    return CaseClock.objects.filter(case=case, stage=stage).order_by("-id")[0]


def _version(at: datetime, name: str = "v1", **policy: object) -> TimeLimitVersion:
    return TimeLimitVersion.objects.create(name=name, effective_from=at, **policy)


def _limit(version: TimeLimitVersion, stage: Stage, value: int, **kw: object) -> TimeLimit:
    kw.setdefault("unit", LimitUnit.WORKING_HOURS)
    return TimeLimit.objects.create(version=version, stage=stage, value=value, **kw)


# ---------------------------------------------------------------- deadlines on the calendar


def test_a_deadline_skips_the_lunch_break(people: People, world: World) -> None:
    case = _filed(people, local(2026, 11, 26, 9))  # Thursday; 暴露垃圾 一般 4 工作时
    assert case.due_at == local(2026, 11, 26, 15)
    dispose = _clock(case, Stage.DISPOSE)
    assert (dispose.limit_seconds, dispose.warn_at, dispose.serious_at) == (
        4 * 3600,
        local(2026, 11, 26, 14, 12),  # 80 % = 3 h 12 min
        local(2026, 11, 27, 10),  # 200 % = 8 h
    )


def test_a_deadline_skips_the_weekend(people: People, world: World) -> None:
    case = _filed(people, local(2026, 11, 27, 16))  # Friday 16:00 + 4 h
    assert case.due_at == local(2026, 11, 30, 11)


def test_working_days_skip_the_national_day_week(people: People, world: World) -> None:
    # 积存垃圾渣土 一般 2 工作日 = 14 h from Tuesday 30 September 2025 10:00: 5.5 h that day,
    # 1–8 October are holidays, 7 h on Thursday 9 October, 1.5 h on Friday 10 October.
    case = _filed(people, local(2025, 9, 30, 10), code="0103")
    assert case.due_at == local(2025, 10, 10, 10)


def test_a_make_up_saturday_counts(people: People, world: World) -> None:
    # Friday 10 October 2025 16:00 + 4 h ends on Saturday 11 October, a 调休 working day.
    case = _filed(people, local(2025, 10, 10, 16))
    assert case.due_at == local(2025, 10, 11, 11)


def test_an_urgent_case_gets_the_urgent_limit(people: People, world: World) -> None:
    case = _filed(people, local(2026, 11, 26, 11), urgency=Urgency.URGENT)  # 2 工作时
    assert case.due_at == local(2026, 11, 26, 15)


def test_an_administrators_holiday_moves_deadlines(people: People, world: World) -> None:
    calendar_day_set(day=local(2026, 11, 30).date(), is_working=False, name="防台停工")
    case = _filed(people, local(2026, 11, 27, 16))
    assert case.due_at == local(2026, 12, 1, 11)


def test_working_periods_are_data(people: People, world: World) -> None:
    working_periods_set([(time(8, 30), time(12)), (time(14, 30), time(18))])
    case = _filed(people, local(2026, 11, 26, 11))
    assert case.due_at == local(2026, 11, 26, 17, 30)


def test_overlapping_working_periods_are_refused(world: World) -> None:
    before = list(WorkingPeriod.objects.values_list("start", "end"))
    with pytest.raises(DomainError) as e:
        working_periods_set([(time(8, 30), time(12)), (time(11), time(17))])
    assert e.value.code == Code.PERIODS_INVALID
    assert list(WorkingPeriod.objects.values_list("start", "end")) == before


# ---------------------------------------------------------------- rules as data, versioned


def test_a_case_keeps_the_version_it_was_reported_under(people: People, world: World) -> None:
    v1 = _version(local(2026, 1, 1))
    _limit(v1, Stage.DISPOSE, 6, category=_category())
    v2 = _version(local(2026, 11, 26, 12), "v2")
    _limit(v2, Stage.DISPOSE, 1, category=_category())
    early = _report(people, local(2026, 11, 26, 9))
    with clock.frozen(local(2026, 11, 26, 14)):
        services.case_file(case=early, by=people.clerk)
    late = _filed(people, local(2026, 11, 26, 14))
    early.refresh_from_db()
    assert (early.sla_version, early.due_at) == (v1, local(2026, 11, 27, 11))
    assert (late.sla_version, late.due_at) == (v2, local(2026, 11, 26, 15))


def test_the_most_specific_rule_wins(people: People, world: World) -> None:
    v1 = _version(local(2026, 1, 1))
    major = _category().parent
    _limit(v1, Stage.DISPOSE, 8, category=major)  # every 市容环境 case
    _limit(v1, Stage.DISPOSE, 3, category=_category(), region=world.town)  # 稠城 override
    _limit(v1, Stage.DISPOSE, 1, category=_category(), urgency=Urgency.URGENT)
    in_town = _filed(people, local(2026, 11, 26, 9))
    urgent = _filed(people, local(2026, 11, 26, 9), urgency=Urgency.URGENT)
    other_major = _filed(people, local(2026, 11, 26, 9), code="0103")
    elsewhere = _report(people, local(2026, 11, 26, 9), where=IN_OTHER_TOWN)
    with clock.frozen(local(2026, 11, 26, 9)):
        services.case_file(case=elsewhere, by=people.other_clerk)
    elsewhere.refresh_from_db()
    assert in_town.due_at == local(2026, 11, 26, 12)  # region beats the 大类 rule
    assert urgent.due_at == local(2026, 11, 26, 10)  # urgency beats the region
    assert other_major.due_at == local(2026, 11, 27, 10)  # 大类 rule: 8 h
    assert elsewhere.due_at == local(2026, 11, 27, 10)  # outside 稠城: the 大类 rule


def test_stage_clocks_follow_the_case(people: People, world: World) -> None:
    v1 = _version(local(2026, 1, 1))
    for stage, hours in [(Stage.INTAKE, 1), (Stage.CLAIM, 1), (Stage.CHECK, 2)]:
        _limit(v1, stage, hours)
    case = _report(people, local(2026, 11, 26, 9))
    with clock.frozen(local(2026, 11, 26, 10, 30)):
        services.case_file(case=case, by=people.clerk)
    with clock.frozen(local(2026, 11, 26, 11)):
        services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
    with clock.frozen(local(2026, 11, 26, 11, 30)):
        services.case_claim(case=case, by=people.handler)
    with clock.frozen(local(2026, 11, 26, 14)):
        services.case_submit(case=case, by=people.handler, photos=[photo(2)])
    rows = list(
        CaseClock.objects.filter(case=case)
        .order_by("id")
        .values_list("stage", "due_at", "stopped_at", "on_time")
    )
    assert rows == [
        (Stage.INTAKE, local(2026, 11, 26, 10), local(2026, 11, 26, 10, 30), False),
        (Stage.DISPOSE, local(2026, 11, 26, 16, 30), local(2026, 11, 26, 14), True),
        (Stage.CLAIM, local(2026, 11, 26, 12), local(2026, 11, 26, 11, 30), True),
        (Stage.CHECK, local(2026, 11, 26, 16), None, None),
    ]
    case.refresh_from_db()
    assert (case.disposed_at, case.intake_on_time) == (local(2026, 11, 26, 14), False)


# ---------------------------------------------------------------- pause and resume


def _accepted(people: People, world: World, at: datetime) -> Case:
    case = _filed(people, at)
    with clock.frozen(at):
        services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
        services.case_claim(case=case, by=people.handler)
    case.refresh_from_db()
    return case


def test_suspension_pauses_the_clock(people: People, world: World) -> None:
    case = _accepted(people, world, local(2026, 11, 26, 9))  # due 15:00
    with clock.frozen(local(2026, 11, 26, 10)):
        services.case_request_suspension(case=case, by=people.handler, note="等待产权确认")
        services.case_decide_suspension(case=case, by=people.dispatcher, approve=True)
    assert _clock(case, Stage.DISPOSE).next_level_at is None
    with clock.frozen(local(2026, 11, 30, 10)):  # Monday: 3 h were left
        services.case_resume(case=case, by=people.dispatcher)
    case.refresh_from_db()
    assert case.due_at == local(2026, 11, 30, 15)
    assert case.suspended_intervals == [
        [local(2026, 11, 26, 10).isoformat(), local(2026, 11, 30, 10).isoformat()]
    ]
    dispose = _clock(case, Stage.DISPOSE)
    assert dispose.paused_seconds == 14 * 3600  # Thu 10:00 → Mon 10:00: 5.5 h + 7 h + 1.5 h
    assert dispose.next_level_at == dispose.warn_at == local(2026, 11, 30, 14, 12)


@pytest.mark.parametrize(("pause", "due_hour"), [(True, 16), (False, 15)])
def test_a_returned_case_pauses_when_the_version_says_so(
    pause: bool, due_hour: int, people: People, world: World
) -> None:
    _version(local(2026, 1, 1), pause_while_returned=pause)
    case = _filed(people, local(2026, 11, 26, 9))
    with clock.frozen(local(2026, 11, 26, 9)):
        services.case_dispatch(case=case, to=world.parks, by=people.dispatcher)
    with clock.frozen(local(2026, 11, 26, 10)):
        services.case_return(
            case=case, by=people.parks_handler, reason=ReturnReason.NOT_OUR_DUTY, note="非园林"
        )
    with clock.frozen(local(2026, 11, 26, 11)):
        services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
    case.refresh_from_db()
    assert (case.due_at, case.was_returned) == (local(2026, 11, 26, due_hour), True)


# ---------------------------------------------------------------- rework and extension


def _submitted(people: People, world: World, filed: datetime, submitted: datetime) -> Case:
    case = _accepted(people, world, filed)
    with clock.frozen(submitted):
        services.case_submit(case=case, by=people.handler, photos=[photo(2)])
    case.refresh_from_db()
    return case


def test_rework_keeps_the_original_deadline(people: People, world: World) -> None:
    case = _submitted(people, world, local(2026, 11, 26, 9), local(2026, 11, 26, 11))
    with clock.frozen(local(2026, 11, 26, 16)):
        services.case_check(case=case, by=people.verifier, passed=False, note="仍有残留")
    case.refresh_from_db()
    dispose = _clock(case, Stage.DISPOSE)
    assert (case.due_at, case.disposed_at, dispose.stopped_at) == (
        local(2026, 11, 26, 15),
        None,
        None,
    )
    # Already past the warning and the deadline: the sweep raises it at once.
    assert dispose.next_level_at == local(2026, 11, 26, 14, 12)
    with clock.frozen(local(2026, 11, 26, 16, 30)):
        services.case_submit(case=case, by=people.handler, photos=[photo(3)])
        services.case_check(case=case, by=people.verifier, passed=True)
        services.case_close(case=case, by=people.shift_lead)
    case.refresh_from_db()
    assert (case.on_time, case.rework_count, case.disposed_at) == (
        False,
        1,
        local(2026, 11, 26, 16, 30),
    )


def test_a_rework_limit_gives_a_new_deadline(people: People, world: World) -> None:
    v1 = _version(local(2026, 1, 1))
    _limit(v1, Stage.REWORK, 2)
    case = _submitted(people, world, local(2026, 11, 26, 9), local(2026, 11, 26, 11))
    with clock.frozen(local(2026, 11, 26, 16)):
        services.case_check(case=case, by=people.verifier, passed=False, note="仍有残留")
    case.refresh_from_db()
    assert case.due_at == local(2026, 11, 27, 9)  # 1.5 h on Thursday, 0.5 h on Friday


def test_on_time_is_frozen_at_close(people: People, world: World) -> None:
    case = _submitted(people, world, local(2026, 11, 26, 9), local(2026, 11, 26, 14, 59))
    with clock.frozen(local(2026, 11, 27, 9)):
        services.case_check(case=case, by=people.verifier, passed=True)
        services.case_close(case=case, by=people.shift_lead)
    case.refresh_from_db()
    assert (case.on_time, case.closed_at) == (True, local(2026, 11, 27, 9))


def test_an_approved_extension_moves_the_deadline(people: People, world: World) -> None:
    case = _accepted(people, world, local(2026, 11, 26, 9))
    until = local(2026, 11, 27, 17, 30)
    with clock.frozen(local(2026, 11, 26, 10)):
        services.case_request_extension(case=case, by=people.handler, until=until, note="需调车")
        services.case_decide_extension(case=case, by=people.dispatcher, approve=True)
    case.refresh_from_db()
    dispose = _clock(case, Stage.DISPOSE)
    # Thursday 9:00 → Friday 17:30 is 6.5 h + 7 h of working time.
    assert (case.due_at, dispose.due_at, dispose.limit_seconds) == (until, until, 48600)
    # 80 % of 13.5 h = 10 h 48 min: Thursday's 6.5 h, Friday 8:30–12:00 and 14:00–14:48.
    assert dispose.warn_at == local(2026, 11, 27, 14, 48)


def test_a_denied_extension_keeps_the_deadline(people: People, world: World) -> None:
    case = _accepted(people, world, local(2026, 11, 26, 9))
    with clock.frozen(local(2026, 11, 26, 10)):
        services.case_request_extension(
            case=case, by=people.handler, until=local(2026, 11, 27, 17), note="需调车"
        )
        services.case_decide_extension(
            case=case, by=people.dispatcher, approve=False, note="时限充足"
        )
    case.refresh_from_db()
    assert case.due_at == local(2026, 11, 26, 15)


def test_reopening_starts_a_new_cycle(people: People, world: World) -> None:
    case = _submitted(people, world, local(2026, 11, 26, 9), local(2026, 11, 26, 11))
    with clock.frozen(local(2026, 11, 26, 11)):
        services.case_check(case=case, by=people.verifier, passed=True)
        services.case_close(case=case, by=people.shift_lead)
    with clock.frozen(local(2026, 11, 27, 9)):
        services.case_reopen(case=case, by=people.resident, note="又堆起来了")
        services.case_file(case=case, by=people.clerk)
    case.refresh_from_db()
    assert (case.due_at, case.on_time, case.disposed_at) == (local(2026, 11, 27, 15), None, None)
    assert CaseClock.objects.filter(case=case, stage=Stage.DISPOSE).count() == 2


def test_the_reporter_cannot_reopen_after_the_window(
    people: People, world: World, client_for: Any
) -> None:
    case = _submitted(people, world, local(2026, 11, 26, 9), local(2026, 11, 26, 11))
    with clock.frozen(local(2026, 11, 26, 11)):
        services.case_check(case=case, by=people.verifier, passed=True)
        services.case_close(case=case, by=people.shift_lead)
    events = CaseEvent.objects.filter(case=case).count()
    url = f"/api/v1/cases/{case.number}/reopen"
    with clock.frozen(local(2026, 12, 3, 11, 1)):  # 7 days (CASE_REOPEN_DAYS) and a minute
        response = client_for(people.resident).post(
            url, {"note": "又堆起来了"}, content_type="application/json"
        )
    assert (response.status_code, response.json()) == (
        422,
        {"code": "reopen_window_passed", "message": "结案超过7天，不能重新打开"},
    )
    case.refresh_from_db()
    assert (case.state, case.reopen_count) == (State.CLOSED, 0)
    assert CaseEvent.objects.filter(case=case).count() == events
    with clock.frozen(local(2026, 12, 3, 10, 59)):  # within the window
        response = client_for(people.resident).post(
            url, {"note": "又堆起来了"}, content_type="application/json"
        )
    assert (response.status_code, response.json()["state"]) == (200, "reopened")


def test_on_the_spot_cases_are_on_time(people: People, world: World) -> None:
    with clock.frozen(local(2026, 11, 26, 9)):
        case = services.case_resolve_on_spot(
            by=people.grid_worker,
            category=_category(),
            description="少量散落垃圾",
            lat=IN_GRID[0],
            lon=IN_GRID[1],
            before=[photo(1)],
            after=[photo(2)],
        )
    case.refresh_from_db()
    assert (case.due_at, case.disposed_at, case.on_time) == (
        local(2026, 11, 26, 15),
        local(2026, 11, 26, 9),
        True,
    )
    assert not CaseClock.objects.filter(case=case, stopped_at__isnull=True).exists()


def test_the_engine_reads_the_calendar_again_after_a_change(world: World) -> None:
    before = sla.work_calendar()
    calendar_day_set(day=local(2026, 12, 1).date(), is_working=False, name="停工")
    after = sla.work_calendar()
    assert before is not after
    assert not after.is_working_day(local(2026, 12, 1).date())
    assert sla.work_calendar() is after
    assert after.add(local(2026, 11, 30, 17), timedelta(hours=1)) == local(2026, 12, 2, 9)


# ---------------------------------------------------------------- publishing limits, the calendar


def test_a_new_version_snapshots_the_category_limits(world: World) -> None:
    from civicloop.cases.timelimits import time_limit_version_create

    v1 = time_limit_version_create(name="2026版", effective_from=local(2026, 1, 1))
    _limit(v1, Stage.INTAKE, 1)
    rules = sorted(
        (r.category.full_code if r.category else "", r.urgency, r.value, r.unit)
        for r in v1.limits.filter(stage=Stage.DISPOSE)
    )
    assert rules == [
        ("0102", "normal", 4, "working_hours"),
        ("0102", "urgent", 2, "working_hours"),
        ("0103", "normal", 2, "working_days"),
        ("0103", "urgent", 4, "working_hours"),
    ]
    Category.objects.filter(full_code="0102").update(limit_normal=9)
    v2 = time_limit_version_create(
        name="2027版", effective_from=local(2027, 1, 1), copy_from=v1, warn_percent=75
    )
    assert v2.limits.filter(stage=Stage.DISPOSE).count() == 4  # copied, not re-snapshotted
    assert v2.limits.get(stage=Stage.INTAKE).value == 1
    assert v2.limits.get(category__full_code="0102", urgency="normal").value == 4


@pytest.mark.parametrize(
    ("kw", "code"),
    [({"name": " "}, Code.LIMITS_INVALID), ({"warn_percent": 120}, Code.LIMITS_INVALID)],
)
def test_bad_versions_are_refused(kw: dict[str, object], code: Code, world: World) -> None:
    from civicloop.cases.timelimits import time_limit_version_create

    args: dict[str, object] = {"name": "v", "effective_from": local(2026, 1, 1), **kw}
    with pytest.raises(DomainError) as e:
        time_limit_version_create(**args)  # type: ignore[arg-type]
    assert e.value.code == code
    assert TimeLimitVersion.objects.count() == 0


def test_reseeding_keeps_the_administrators_days(world: World) -> None:
    import io

    from django.core.management import call_command

    from civicloop.cases.models import WorkCalendarDay

    calendar_day_set(day=local(2026, 10, 1).date(), is_working=True, name="应急值守")
    out = io.StringIO()
    call_command("workcal", "seed", stdout=out)
    assert out.getvalue() == "calendar: 0 days written for 2004–2026, 0 working periods created\n"
    day = WorkCalendarDay.objects.get(day=local(2026, 10, 1).date())
    assert (day.is_working, day.name, day.source) == (True, "应急值守", "admin")
    out = io.StringIO()
    call_command("workcal", "show", "2026", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "2026-01-01 休息 元旦 (chinese_calendar)"
    assert "2026-10-10 上班 国庆节调休上班 (chinese_calendar)" in lines
    assert lines[-1] == "working periods: 08:30–12:00, 14:00–17:30"
