"""The administrator's pages for deadlines and routing render, and edits go through services."""

from __future__ import annotations

from typing import Any

import pytest

from civicloop.accounts.models import User
from civicloop.cases.models import TimeLimitVersion, WorkCalendarDay
from civicloop.cases.tests.conftest import local
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
