"""What a transition through the API costs, and what it must still refuse: the case is read once,
through the access-scoped selector, and the response is the case as a fresh read shows it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from civicloop.cases.models import (
    Case,
    CaseClock,
    CaseEvent,
    CategoryKind,
    Dispatch,
    RoutingRule,
    State,
)
from civicloop.cases.tests.journeys import case_in, reported
from civicloop.conftest import People, World

pytestmark = pytest.mark.usefixtures("categories", "workcal")

TABLES = (
    "django_session",
    "accounts_user",
    "accounts_membership",
    "cases_case",
    "regions_region",
    "cases_slarevision",
    "cases_caseclock",
    "cases_caseevent",
    "cases_routingrule",
    "cases_dispatch",
    "cases_caseassist",
    "cases_photo",
    "cases_casefollower",
    "cases_supervision",
)


def _statements(queries: list[dict[str, Any]]) -> list[str]:
    """The SQL sent, without transaction control (tests run in a transaction, so the service's
    own BEGIN/COMMIT show up as savepoints)."""
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")
    return [q["sql"] for q in queries if not q["sql"].upper().startswith(control)]


def _first_table(sql: str) -> str:
    """The table a statement is about: the first of TABLES it names, by position."""
    found = [(m.start(), t) for t in TABLES for m in re.finditer(rf'[" ]{t}[" )]', sql)]
    return min(found)[1] if found else sql[:40]


def _file(client: Any, number: str) -> Any:
    return client.post(f"/api/v1/cases/{number}/file", {}, content_type="application/json")


def test_filing_with_automatic_dispatch_costs_a_fixed_number_of_statements(
    people: People, world: World, client_for: Any, settings: Any
) -> None:
    """A regression guard on POST /cases/{number}/file (立案, which the rule dispatches at once):
    the case is read once with its access check (one statement, and one for its three regions);
    each of the two transitions is one compare-and-swap that returns the row, the clocks and
    the time-limit configuration are read once for both; then the detail's lists."""
    settings.CASE_EVENT_DELIVERY = "worker"
    RoutingRule.objects.create(
        organisation=world.sanitation,
        kind=CategoryKind.EVENT,
        region=world.town,
        auto_dispatch=True,
    )
    clerk = client_for(people.clerk)
    assert _file(clerk, reported(people).number).status_code == 200  # warms the caches
    case = reported(people)
    with CaptureQueriesContext(connection) as ctx:
        response = _file(clerk, case.number)
    assert response.status_code == 200
    assert response.json()["state"] == State.DISPATCHED
    assert [_first_table(s) for s in _statements(ctx.captured_queries)] == [
        "django_session",
        "accounts_user",
        "accounts_membership",
        "cases_case",  # the access-scoped read
        "regions_region",
        # 立案: the compare-and-swap, the clocks' configuration and the clocks, the intake
        # clock stopped, the disposal clock started, the SLA facts, the event
        "cases_case",
        "cases_slarevision",
        "cases_caseclock",
        "cases_caseclock",
        "cases_caseclock",
        "cases_case",
        "cases_caseevent",
        # 派遣 by the rule: the rules, the compare-and-swap, the claim clock, the event, the
        # dispatch record, assists of the new lead ended
        "cases_routingrule",
        "cases_case",
        "cases_caseclock",
        "cases_caseevent",
        "cases_dispatch",
        "cases_caseassist",
        # the detail: timeline, its photos, followers, clocks, supervisions, assists
        "cases_caseevent",
        "cases_photo",
        "cases_casefollower",
        "cases_caseclock",
        "cases_supervision",
        "cases_caseassist",
    ]


@pytest.mark.parametrize(
    ("state", "who", "path", "payload"),
    [
        (State.REPORTED, "clerk", "file", {}),
        (State.DISPATCHED, "handler", "claim", {}),
        (State.DISPATCHED, "handler", "return", {"reason": "not_our_duty", "note": "非本单位"}),
        (State.ACCEPTED, "clerk", "supervise", {"kind": "urge", "note": "请尽快处理"}),
        (State.ACCEPTED, "clerk", "notes", {"text": "已电话联系", "is_public": False}),
    ],
)
def test_a_transition_answers_what_reading_the_case_again_shows(
    people: People,
    world: World,
    client_for: Any,
    state: State,
    who: str,
    path: str,
    payload: dict[str, Any],
) -> None:
    """The detail after a transition is built from the case the service kept current, not from
    a second read: it must be what GET /cases/{number} answers next."""
    case = case_in(state, people, world)
    # Filing dispatches at once (after the journey, which dispatches by hand).
    RoutingRule.objects.create(
        organisation=world.sanitation,
        kind=CategoryKind.EVENT,
        region=world.town,
        auto_dispatch=True,
    )
    client = client_for(getattr(people, who))
    body = {"version": case.version, **payload} if path != "notes" else payload
    response = client.post(
        f"/api/v1/cases/{case.number}/{path}", body, content_type="application/json"
    )
    assert response.status_code in (200, 201), response.content
    assert response.json() == client.get(f"/api/v1/cases/{case.number}").json()


def _footprint(case: Case) -> tuple[Any, ...]:
    row = Case.objects.get(pk=case.pk)
    return (
        row.state,
        row.version,
        row.assigned_org_id,
        CaseEvent.objects.filter(case=case).count(),
        list(CaseClock.objects.filter(case=case).order_by("id").values()),
        Dispatch.objects.filter(case=case).count(),
    )


def test_outside_the_jurisdiction_a_transition_finds_nothing_and_changes_nothing(
    people: People, world: World, client_for: Any
) -> None:
    """Another town's clerk filing, another department's handler claiming: "not found" (404),
    as for a case that does not exist, and the case, its clocks and its timeline unchanged."""
    dispatched = case_in(State.DISPATCHED, people, world)  # held by 环卫所
    RoutingRule.objects.create(
        organisation=world.sanitation,
        kind=CategoryKind.EVENT,
        region=world.town,
        auto_dispatch=True,
    )
    case = reported(people)
    before = _footprint(case)
    other = client_for(people.other_clerk)
    response = _file(other, case.number)
    assert response.status_code == 404
    assert response.json()["code"] == "case_not_found"
    assert other.get(f"/api/v1/cases/{case.number}").status_code == 404
    assert _footprint(case) == before

    before = _footprint(dispatched)
    parks = client_for(people.parks_handler)
    url = f"/api/v1/cases/{dispatched.number}/claim"
    response = parks.post(url, {"version": before[1]}, content_type="application/json")
    assert response.status_code == 404
    assert _footprint(dispatched) == before
