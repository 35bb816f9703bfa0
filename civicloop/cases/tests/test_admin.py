"""The administrator's pages for deadlines and routing render, and edits go through services."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest

from civicloop.accounts.models import User
from civicloop.cases.models import TimeLimitVersion, WorkCalendarDay, WorkingPeriod
from civicloop.cases.tests.conftest import local
from civicloop.cases.workdays import working_periods_set
from civicloop.conftest import People, World

pytestmark = pytest.mark.usefixtures("categories")


@pytest.fixture
def admin_client(client_for: Any, world: World) -> Any:
    admin = User.objects.create_superuser("13800000099", "admin-pass-2026", name="吴建国")
    return client_for(admin)


@pytest.mark.parametrize(
    "page",
    [
        "workcalendarday",
        "workingperiod",
        "timelimitversion",
        "routingrule",
        "case",
    ],
)
def test_the_pages_render(page: str, admin_client: Any) -> None:
    assert admin_client.get(f"/admin/cases/{page}/").status_code == 200
    assert admin_client.get(f"/admin/cases/{page}/add/").status_code in (200, 403)


def test_a_calendar_day_added_in_the_admin_is_the_administrators(admin_client: Any) -> None:
    response = admin_client.post(
        "/admin/cases/workcalendarday/add/",
        {"day": "2027-10-01", "is_working": "", "name": "国庆节"},
    )
    assert response.status_code == 302
    day = WorkCalendarDay.objects.get(day=local(2027, 10, 1).date())
    assert (day.is_working, day.name, day.source) == (False, "国庆节", "admin")


def test_a_version_in_force_is_read_only(admin_client: Any, people: People) -> None:
    past = TimeLimitVersion.objects.create(name="旧版", effective_from=local(2020, 1, 1))
    future = TimeLimitVersion.objects.create(name="新版", effective_from=local(2099, 1, 1))
    page = admin_client.get(f"/admin/cases/timelimitversion/{past.pk}/change/")
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    page = admin_client.get(f"/admin/cases/timelimitversion/{future.pk}/change/")
    assert page.context["has_change_permission"] is True
    response = admin_client.post(
        "/admin/cases/timelimitversion/",
        {"action": "copy_as_draft", "_selected_action": [past.pk]},
    )
    assert response.status_code == 302
    assert TimeLimitVersion.objects.filter(name="旧版（修订）").count() == 1


def _periods() -> list[tuple[time, time]]:
    return list(WorkingPeriod.objects.order_by("start").values_list("start", "end"))


@pytest.mark.parametrize(
    ("start", "end"),
    [("11:00", "13:00"), ("18:00", "17:00"), ("09:00", "09:00"), ("07:00", "15:00")],
)
def test_working_periods_that_overlap_or_run_backwards_are_refused_in_the_admin(
    admin_client: Any, start: str, end: str
) -> None:
    """Every deadline is computed from them: a bad set would stop every report."""
    working_periods_set([(time(8, 30), time(12)), (time(14), time(17, 30))])
    before = _periods()
    response = admin_client.post("/admin/cases/workingperiod/add/", {"start": start, "end": end})
    assert response.status_code == 200  # the form again, with the error
    assert (
        "工作时段必须按时间顺序排列且互不重叠，结束时间须晚于开始时间" in response.content.decode()
    )
    assert _periods() == before


def test_a_working_period_is_added_and_moved_in_the_admin(admin_client: Any) -> None:
    working_periods_set([(time(8, 30), time(12)), (time(14), time(17, 30))])
    response = admin_client.post(
        "/admin/cases/workingperiod/add/", {"start": "18:30", "end": "20:00"}
    )
    assert response.status_code == 302
    evening = WorkingPeriod.objects.get(start=time(18, 30))
    # Moving a period may overlap where it was: it is checked in place of itself.
    url = f"/admin/cases/workingperiod/{evening.pk}/change/"
    assert admin_client.post(url, {"start": "18:00", "end": "19:30"}).status_code == 302
    assert _periods() == [
        (time(8, 30), time(12)),
        (time(14), time(17, 30)),
        (time(18), time(19, 30)),
    ]
    assert admin_client.post(url, {"start": "17:00", "end": "19:30"}).status_code == 200
    assert WorkingPeriod.objects.get(pk=evening.pk).start == time(18)


def test_a_case_page_lists_its_closed_cycles(
    admin_client: Any, people: People, world: World
) -> None:
    from civicloop.cases import services
    from civicloop.cases.models import State
    from civicloop.cases.tests.journeys import case_in
    from civicloop.lib import clock

    with clock.frozen(local(2026, 11, 26, 9)):
        case = case_in(State.CLOSED, people, world)
        services.case_reopen(case=case, by=people.clerk, note="群众再次反映")
    page = admin_client.get(f"/admin/cases/case/{case.pk}/change/").content.decode()
    assert 'id="cycles-group"' in page
    assert 'name="cycles-TOTAL_FORMS" value="1"' in page
