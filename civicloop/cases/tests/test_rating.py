"""The reporter rates the result (满意/基本满意/不满意) within the window; the centre records a
12345 回访; a new closure can be rated again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from civicloop.cases import services
from civicloop.cases.models import Case, CaseEvent, Category, Satisfaction, Source, State
from civicloop.cases.tests.journeys import case_in, photo
from civicloop.conftest import IN_GRID, People, World
from civicloop.lib import clock

pytestmark = pytest.mark.usefixtures("categories")


def _rate(client: Any, case: Case, satisfaction: str, note: str = "") -> Any:
    return client.post(
        f"/api/v1/cases/{case.number}/rate",
        {"satisfaction": satisfaction, "note": note},
        content_type="application/json",
    )


def _snapshot(case: Case) -> tuple[Any, ...]:
    fresh = Case.objects.get(pk=case.pk)
    return fresh.version, fresh.satisfaction, fresh.rated_at


def test_the_reporter_rates_the_result(people: People, world: World, client_for: Any) -> None:
    case = case_in(State.CLOSED, people, world)
    body = _rate(client_for(people.resident), case, "basic", "清理及时，但有异味").json()
    assert (body["state"], body["satisfaction"]) == ("closed", "basic")
    assert body["rated_at"] is not None
    event = CaseEvent.objects.filter(case=case).order_by("-seq")[0]
    assert (event.type, event.is_public, event.note, event.data) == (
        "rated",
        True,
        "清理及时，但有异味",
        {"satisfaction": "basic", "via": "reporter"},
    )
    before = _snapshot(case)
    again = _rate(client_for(people.resident), case, "satisfied")
    assert (again.status_code, again.json()["code"]) == (422, "already_rated")
    assert _snapshot(case) == before


def test_the_window_closes(people: People, world: World, client_for: Any) -> None:
    case = case_in(State.CLOSED, people, world)
    before = _snapshot(case)
    with clock.frozen(clock.now() + timedelta(days=8)):
        response = _rate(client_for(people.resident), case, "dissatisfied")
    assert (response.status_code, response.json()["code"]) == (422, "rate_window_passed")
    assert response.json()["message"] == "结案超过7天，不能评价"
    assert _snapshot(case) == before


def test_only_closed_cases_and_only_the_reporter(
    people: People, world: World, client_for: Any
) -> None:
    open_case = case_in(State.SUBMITTED, people, world)
    response = _rate(client_for(people.resident), open_case, "satisfied")
    assert (response.status_code, response.json()["code"]) == (409, "invalid_transition")
    closed = case_in(State.CLOSED, people, world)
    assert _rate(client_for(people.stranger), closed, "satisfied").status_code == 404
    handler = _rate(client_for(people.handler), closed, "satisfied")
    assert (handler.status_code, handler.json()["code"]) == (403, "role_not_allowed")
    assert _snapshot(closed)[1:] == ("", None)


def test_a_new_closure_can_be_rated_again(people: People, world: World) -> None:
    case = case_in(State.CLOSED, people, world)
    services.case_rate(case=case, by=people.resident, satisfaction=Satisfaction.DISSATISFIED)
    services.case_reopen(case=case, by=people.resident, note="没有清理干净")
    services.case_file(case=case, by=people.clerk)
    services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
    services.case_claim(case=case, by=people.handler)
    services.case_submit(case=case, by=people.handler, photos=[photo(5)])
    services.case_check(case=case, by=people.verifier, passed=True)
    services.case_close(case=case, by=people.shift_lead)
    services.case_rate(case=case, by=people.resident, satisfaction=Satisfaction.SATISFIED)
    case.refresh_from_db()
    assert (case.satisfaction, case.reopen_count) == ("satisfied", 1)


def test_the_centre_records_a_hotline_callback(people: People, world: World) -> None:
    case = services.case_report(
        by=people.clerk,
        category=Category.objects.get(kind="event", full_code="0102"),
        description="市民来电：桥下垃圾",
        lat=IN_GRID[0],
        lon=IN_GRID[1],
        source=Source.HOTLINE,
        reporter_name="张先生",
        reporter_phone="13912345678",
    )
    services.case_file(case=case, by=people.clerk)
    services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
    services.case_claim(case=case, by=people.handler)
    services.case_submit(case=case, by=people.handler, photos=[photo(4)])
    services.case_check(case=case, by=people.verifier, passed=True)
    services.case_close(case=case, by=people.shift_lead)
    services.case_rate(case=case, by=people.clerk, satisfaction=Satisfaction.SATISFIED, note="回访")
    event = CaseEvent.objects.filter(case=case).order_by("-seq")[0]
    assert (event.data, event.actor_role) == (
        {"satisfaction": "satisfied", "via": "callback"},
        "intake_clerk",
    )
