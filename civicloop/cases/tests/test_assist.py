"""会办: one lead unit, assisting units that see the case and add notes and evidence, and only
the lead acts on it."""

from __future__ import annotations

from typing import Any

import pytest

from civicloop.cases import services
from civicloop.cases.models import (
    Case,
    CaseAssist,
    CaseEvent,
    Photo,
    PhotoKind,
    ReturnReason,
    State,
)
from civicloop.cases.tests.journeys import case_in
from civicloop.conftest import People, World, photo_file

pytestmark = pytest.mark.usefixtures("categories")


def _visible(client: Any) -> list[str]:
    return [c["number"] for c in client.get("/api/v1/cases").json()["items"]]


def _assisted(people: People, world: World) -> Case:
    case = case_in(State.ACCEPTED, people, world)  # lead: 环卫所
    services.case_assist_add(case=case, to=world.parks, by=people.dispatcher, note="协助清理绿地")
    case.refresh_from_db()
    return case


def test_an_assisting_unit_sees_the_case_and_adds_evidence(
    people: People, world: World, client_for: Any
) -> None:
    case = _assisted(people, world)
    parks = client_for(people.parks_handler)
    assert _visible(parks) == [case.number]
    detail = parks.get(f"/api/v1/cases/{case.number}").json()
    assert [a["code"] for a in detail["assists"]] == ["ccjd-yl"]
    assert detail["actions"] == []
    note = parks.post(
        f"/api/v1/cases/{case.number}/notes",
        {"text": "绿地部分已清理", "is_public": False},
        content_type="application/json",
    )
    assert note.status_code == 201
    evidence = parks.post(
        f"/api/v1/cases/{case.number}/evidence", {"note": "绿地清理后", "photos": [photo_file()]}
    )
    assert evidence.status_code == 201, evidence.json()
    last = CaseEvent.objects.filter(case=case).order_by("-seq")[0]
    assert (last.type, last.actor_org, last.is_public) == ("photos_added", world.parks, False)
    assert Photo.objects.filter(event=last, kind=PhotoKind.EVIDENCE).count() == 1


def test_only_the_lead_unit_acts(people: People, world: World, client_for: Any) -> None:
    case = _assisted(people, world)
    before = (case.version, case.state)
    parks = client_for(people.parks_handler)
    response = parks.post(f"/api/v1/cases/{case.number}/submit", {"photos": [photo_file()]})
    assert (response.status_code, response.json()["code"]) == (403, "role_not_allowed")
    response = parks.post(
        f"/api/v1/cases/{case.number}/request-suspension",
        {"note": "x"},
        content_type="application/json",
    )
    assert response.status_code == 403
    fresh = Case.objects.get(pk=case.pk)
    assert (fresh.version, fresh.state) == before


@pytest.mark.parametrize(
    ("to", "code"),
    [("ccjd-hw", "assist_invalid"), ("ccjd-yl", "assist_invalid"), ("byjd-hw", "assist_invalid")],
)
def test_bad_assisting_units_are_refused(
    to: str, code: str, people: People, world: World, client_for: Any
) -> None:
    case = _assisted(people, world)  # the lead, an active assistant, another town's unit
    before = (case.version, CaseAssist.objects.count())
    response = client_for(people.dispatcher).post(
        f"/api/v1/cases/{case.number}/assist", {"to": to}, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (422, code)
    assert (Case.objects.get(pk=case.pk).version, CaseAssist.objects.count()) == before


def test_ending_assistance_ends_the_view(people: People, world: World, client_for: Any) -> None:
    case = _assisted(people, world)
    body = (
        client_for(people.dispatcher)
        .post(
            f"/api/v1/cases/{case.number}/end-assist",
            {"org": "ccjd-yl"},
            content_type="application/json",
        )
        .json()
    )
    assert body["assists"] == []
    assert _visible(client_for(people.parks_handler)) == []
    again = client_for(people.dispatcher).post(
        f"/api/v1/cases/{case.number}/end-assist",
        {"org": "ccjd-yl"},
        content_type="application/json",
    )
    assert (again.status_code, again.json()["code"]) == (422, "assist_invalid")


def test_closing_ends_assistance_and_dispatch_to_an_assistant_makes_it_lead(
    people: People, world: World
) -> None:
    case = case_in(State.DISPATCHED, people, world)
    services.case_assist_add(case=case, to=world.parks, by=people.dispatcher)
    services.case_return(
        case=case, by=people.handler, reason=ReturnReason.NOT_OUR_DUTY, note="非环卫职责"
    )
    services.case_dispatch(case=case, to=world.parks, by=people.dispatcher)
    assert not CaseAssist.objects.filter(case=case, ended_at=None).exists()

    closed = case_in(State.SUBMITTED, people, world)
    services.case_assist_add(case=closed, to=world.parks, by=people.dispatcher)
    services.case_check(case=closed, by=people.verifier, passed=True)
    services.case_close(case=closed, by=people.shift_lead)
    assert not CaseAssist.objects.filter(case=closed, ended_at=None).exists()
