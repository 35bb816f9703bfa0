"""What a report reads from this process's caches (the grid index, the time-limit configuration)
is checked in the statement that reads the placement: a change written by another process —
here a direct update, which this process's caches are never told about — is seen by the next
report. The rows the write path reads and inserts without the ORM's compiler are the rows the
ORM would read and write."""

from __future__ import annotations

import contextlib
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from civicloop.accounts.models import Membership, User
from civicloop.accounts.selectors import memberships_of
from civicloop.cases import sla
from civicloop.cases.models import (
    Case,
    CaseClock,
    CaseEvent,
    Category,
    LimitUnit,
    Stage,
    TimeLimit,
    TimeLimitVersion,
    WorkCalendarDay,
    WorkingPeriod,
)
from civicloop.cases.tests.conftest import local
from civicloop.conftest import IN_GRID, People, World, square
from civicloop.lib import clock
from civicloop.regions.models import Region

pytestmark = pytest.mark.usefixtures("categories", "workcal")

# A Monday morning in Yiwu, with the whole working day ahead.
MONDAY = local(2026, 11, 23, 9)


def _report(client: Any, at: datetime = MONDAY) -> Case:
    with clock.frozen(at):
        response = client.post(
            "/api/v1/cases",
            {
                "category": "0102",
                "kind": "event",
                "description": "沙堆堵住了桥面",
                "lat": IN_GRID[0],
                "lon": IN_GRID[1],
            },
        )
    assert response.status_code == 201, response.content
    return Case.objects.get(number=response.json()["number"])


def _later() -> datetime:
    """An `updated_at` after anything the test wrote (as another process's service sets it)."""
    return timezone.now() + timedelta(seconds=1)


def _intake(case: Case) -> CaseClock:
    return CaseClock.objects.get(case=case, stage=Stage.INTAKE)


def test_the_next_report_sees_grids_moved_by_another_process(
    people: People, world: World, client_for: Any
) -> None:
    client = client_for(people.resident)
    assert _report(client).grid_id == world.grid.pk
    Region.objects.filter(pk=world.grid.pk).update(
        boundary=square(29.50, 120.50), updated_at=_later()
    )
    Region.objects.filter(pk=world.grid2.pk).update(
        boundary=square(29.30, 120.07, 0.02), updated_at=_later()
    )
    case = _report(client)
    assert (case.grid_id, case.village_id, case.town_id, case.city_id) == (
        world.grid2.pk,
        world.village.pk,
        world.town.pk,
        world.city.pk,
    )


def test_the_next_report_sees_region_names_changed_by_another_process(
    people: People, world: World, client_for: Any
) -> None:
    """Only grid shapes are kept; the regions of a placement are read with it."""
    client = client_for(people.resident)
    _report(client)
    Region.objects.filter(pk=world.town.pk).update(name="稠城街道（新）")
    assert _report(client).town.name == "稠城街道（新）"  # type: ignore[union-attr]


def test_the_next_report_sees_time_limits_changed_by_another_process(
    people: People, world: World, client_for: Any
) -> None:
    version = TimeLimitVersion.objects.create(name="v1", effective_from=MONDAY - timedelta(days=1))
    limit = TimeLimit.objects.create(
        version=version, stage=Stage.INTAKE, value=4, unit=LimitUnit.WORKING_HOURS
    )
    client = client_for(people.resident)
    first = _report(client)
    assert (first.sla_version_id, _intake(first).limit_seconds) == (version.pk, 4 * 3600)
    assert _intake(first).due_at == local(2026, 11, 23, 15)  # 3 h before lunch, 1 h after
    TimeLimit.objects.filter(pk=limit.pk).update(value=2, updated_at=_later())
    second = _report(client)
    assert (_intake(second).limit_seconds, _intake(second).due_at) == (
        2 * 3600,
        local(2026, 11, 23, 11),
    )


def test_the_next_report_sees_a_new_version_published_by_another_process(
    people: People, world: World, client_for: Any
) -> None:
    client = client_for(people.resident)
    assert _report(client).sla_version_id is None
    sla.config()  # this process's configuration, which nobody tells about the new version
    version = TimeLimitVersion.objects.create(name="v1", effective_from=MONDAY - timedelta(days=1))
    TimeLimit.objects.create(
        version=version, stage=Stage.INTAKE, value=1, unit=LimitUnit.WORKING_DAYS
    )
    case = _report(client)
    assert (case.sla_version_id, _intake(case).due_at) == (version.pk, local(2026, 11, 24, 9))


def test_the_next_report_sees_a_holiday_added_by_another_process(
    people: People, world: World, client_for: Any
) -> None:
    version = TimeLimitVersion.objects.create(name="v1", effective_from=MONDAY - timedelta(days=1))
    TimeLimit.objects.create(
        version=version, stage=Stage.INTAKE, value=1, unit=LimitUnit.WORKING_DAYS
    )
    client = client_for(people.resident)
    assert _intake(_report(client)).due_at == local(2026, 11, 24, 9)
    WorkCalendarDay.objects.create(day=local(2026, 11, 24).date(), is_working=False, name="停工")
    assert _intake(_report(client)).due_at == local(2026, 11, 25, 9)


def test_the_next_report_sees_a_raw_update_that_leaves_updated_at_alone(
    people: People, world: World, client_for: Any
) -> None:
    """Triggers renew the configuration's revision on any write, not only on those that set
    `updated_at` (a queryset `update()` does not)."""
    version = TimeLimitVersion.objects.create(name="v1", effective_from=MONDAY - timedelta(days=1))
    limit = TimeLimit.objects.create(
        version=version, stage=Stage.INTAKE, value=4, unit=LimitUnit.WORKING_HOURS
    )
    client = client_for(people.resident)
    assert _intake(_report(client)).limit_seconds == 4 * 3600
    before = TimeLimit.objects.get(pk=limit.pk).updated_at
    TimeLimit.objects.filter(pk=limit.pk).update(value=2)
    assert TimeLimit.objects.get(pk=limit.pk).updated_at == before
    assert _intake(_report(client)).limit_seconds == 2 * 3600
    # 2 working hours from 9:00: 11:00 with the default periods (8:30–12:00, 14:00–17:30).
    WorkingPeriod.objects.all().delete()
    WorkingPeriod.objects.bulk_create(
        [WorkingPeriod(start=time(8), end=time(10)), WorkingPeriod(start=time(13), end=time(17))]
    )
    assert _intake(_report(client)).due_at == local(2026, 11, 23, 14)


class _RolledBack(Exception):
    pass


def test_a_configuration_loaded_in_a_rolled_back_transaction_is_not_taken_for_a_later_one(
    people: People, world: World, client_for: Any
) -> None:
    """A revision value is never used twice: this process loads an edit inside a transaction
    that is then rolled back; another edit written afterwards must not look like that copy."""
    version = TimeLimitVersion.objects.create(name="v1", effective_from=MONDAY - timedelta(days=1))
    limit = TimeLimit.objects.create(
        version=version, stage=Stage.INTAKE, value=4, unit=LimitUnit.WORKING_HOURS
    )
    client = client_for(people.resident)
    assert _intake(_report(client)).limit_seconds == 4 * 3600
    with contextlib.suppress(_RolledBack), transaction.atomic():
        TimeLimit.objects.filter(pk=limit.pk).update(value=2)
        assert _intake(_report(client)).limit_seconds == 2 * 3600
        raise _RolledBack
    assert TimeLimit.objects.get(pk=limit.pk).value == 4
    TimeLimit.objects.filter(pk=limit.pk).update(value=3)
    assert _intake(_report(client)).limit_seconds == 3 * 3600


def test_the_next_report_sees_a_category_deactivated_by_another_process(
    people: People, world: World, client_for: Any
) -> None:
    client = client_for(people.resident)
    _report(client)
    Category.objects.filter(kind="event", full_code="0102").update(is_active=False)
    with clock.frozen(MONDAY):
        response = client.post(
            "/api/v1/cases",
            {"category": "0102", "description": "沙堆", "lat": IN_GRID[0], "lon": IN_GRID[1]},
        )
    assert (response.status_code, response.json()["code"]) == (422, "category_invalid")


def test_the_next_report_sees_memberships_changed_by_another_process(
    people: People, world: World, client_for: Any
) -> None:
    """The memberships are read with the placement, fresh for every report: a role granted or
    revoked elsewhere decides the next report's source."""
    client = client_for(people.resident)
    assert _report(client).source == "resident"
    granted = Membership.objects.create(user=people.resident, role="volunteer", region=world.city)
    assert _report(client).source == "volunteer"
    Membership.objects.filter(pk=granted.pk).update(is_active=False)
    assert _report(client).source == "resident"


def test_a_report_by_category_code_reads_what_the_orm_reads(people: People, world: World) -> None:
    """The category and the memberships read with the placement are the rows the ORM reads."""
    from civicloop.cases import services

    with clock.frozen(MONDAY):
        case = services.case_report(
            by=User.objects.get(pk=people.grid_worker.pk),
            category=services.CategoryCode("event", "0102"),
            description="桥头垃圾堆放",
            lat=IN_GRID[0],
            lon=IN_GRID[1],
        )
    category = Category.objects.get(kind="event", full_code="0102")
    assert {f.attname: getattr(case.category, f.attname) for f in Category._meta.fields} == {
        f.attname: getattr(category, f.attname) for f in Category._meta.fields
    }
    assert (case.source, case.grid, case.town, case.city) == (
        "grid_worker",
        world.grid,
        world.town,
        world.city,
    )
    event = CaseEvent.objects.get(case=case)
    assert (event.actor_id, event.actor_role) == (people.grid_worker.pk, "grid_worker")


def test_a_report_stores_exactly_the_instances_it_returns(people: People, world: World) -> None:
    from civicloop.cases import services

    with clock.frozen(MONDAY):
        case = services.case_report(
            by=people.resident,
            category=Category.objects.get(kind="event", full_code="0102"),
            description="桥头垃圾堆放",
            lat=IN_GRID[0],
            lon=IN_GRID[1],
            address=" 桥头 ",
        )
    stored = Case.objects.get(pk=case.pk)
    assert {f.attname: getattr(stored, f.attname) for f in Case._meta.concrete_fields} == {
        f.attname: getattr(case, f.attname) for f in Case._meta.concrete_fields
    }
    assert case._state.adding is False
    event = CaseEvent.objects.get(case=case)
    assert (event.seq, event.type, event.to_state, event.data, event.delivered) == (
        1,
        "reported",
        "reported",
        {"source": "resident"},
        False,
    )
    assert _intake(case).started_at == MONDAY


def test_memberships_are_read_as_the_orm_reads_them(people: People, world: World) -> None:
    Membership.objects.filter(user=people.clerk).update(is_active=False)
    Membership.objects.create(
        user=people.clerk, role="dispatcher", organisation=world.town_centre, region=world.town
    )
    for person in (people.resident, people.clerk, people.handler, people.stranger):
        user = User.objects.get(pk=person.pk)  # a new object: no memberships cached on it
        expected = list(
            Membership.objects.active()
            .filter(user=user)
            .select_related("organisation", "region")
            .order_by("id")
        )
        got = memberships_of(user)
        assert [_membership(m) for m in got] == [_membership(m) for m in expected]
        assert all(type(m.is_active) is bool and timezone.is_aware(m.created_at) for m in got)


def _membership(m: Membership) -> tuple[Any, ...]:
    org = m.organisation
    return (
        m.pk,
        m.role,
        m.is_active,
        m.created_at,
        (org.pk, org.code, org.name, org.is_active, org.region_id) if org else None,
        (m.region.pk, m.region.code, m.region.path) if m.region else None,
    )
