"""Manual supervision: 催办 / 督办 / 挂牌督办 with issuer, due time and a visible mark."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from civicloop.accounts.models import Role, User
from civicloop.accounts.services import membership_grant, user_create
from civicloop.cases import services
from civicloop.cases.models import Case, CaseEvent, State, Supervision, SupervisionKind
from civicloop.cases.tests.journeys import case_in
from civicloop.conftest import People, World
from civicloop.lib import clock

pytestmark = pytest.mark.usefixtures("categories")


def _post(client: Any, case: Case, path: str, payload: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/cases/{case.number}/{path}", payload, content_type="application/json"
    )


def _evaluator(world: World) -> User:
    user = user_create(mobile="13800000020", name="黄海")
    membership_grant(user=user, role=Role.EVALUATOR, region=world.city)
    return user


def _unchanged(case: Case) -> tuple[Any, ...]:
    fresh = Case.objects.get(pk=case.pk)
    return fresh.version, fresh.supervision, Supervision.objects.filter(case=case).count()


def test_a_reminder_marks_the_case(people: People, world: World, client_for: Any) -> None:
    case = case_in(State.ACCEPTED, people, world)
    due = (clock.now() + timedelta(days=1)).replace(microsecond=0)
    body = _post(
        client_for(people.clerk),
        case,
        "supervise",
        {"kind": "urge", "note": "群众反映强烈，请今天处理", "due_at": due.isoformat()},
    ).json()
    assert (body["state"], body["supervision"]) == ("accepted", "urge")
    [row] = body["supervisions"]
    assert (row["kind_display"], row["issued_by"], row["issuer_org"], row["note"]) == (
        "催办",
        "陈静",
        "稠城街道综合信息指挥室",
        "群众反映强烈，请今天处理",
    )
    event = CaseEvent.objects.filter(case=case).order_by("-seq")[0]
    assert (event.type, event.is_public, event.data) == (
        "supervised",
        False,
        {"kind": "urge", "due_at": due.isoformat()},
    )
    # The handler sees the mark and the requirement; the reporter sees neither.
    assert client_for(people.handler).get(f"/api/v1/cases/{case.number}").json()["supervisions"][0][
        "kind"
    ] == ("urge")
    assert (
        client_for(people.resident).get(f"/api/v1/cases/{case.number}").json()["supervisions"] == []
    )


def test_supervision_needs_seniority(people: People, world: World, client_for: Any) -> None:
    case = case_in(State.ACCEPTED, people, world)
    before = _unchanged(case)
    for kind in ("supervise", "listed"):
        response = _post(client_for(people.clerk), case, "supervise", {"kind": kind, "note": "x"})
        assert response.status_code == 403
        assert response.json()["code"] == "role_not_allowed"
    listed = _post(
        client_for(people.shift_lead), case, "supervise", {"kind": "listed", "note": "x"}
    )
    assert listed.status_code == 403
    assert _unchanged(case) == before


def test_the_strongest_supervision_is_the_mark(
    people: People, world: World, client_for: Any
) -> None:
    case = case_in(State.ACCEPTED, people, world)
    evaluator = client_for(_evaluator(world))
    _post(evaluator, case, "supervise", {"kind": "listed", "note": "列入挂牌督办"})
    body = _post(client_for(people.clerk), case, "supervise", {"kind": "urge", "note": "再催"})
    assert body.json()["supervision"] == "listed"
    public = client_for(people.resident).get(f"/api/v1/cases/{case.number}").json()
    assert [s["kind"] for s in public["supervisions"]] == ["listed"]
    assert [e["type"] for e in public["timeline"]][-2:] == ["claimed", "supervised"]


def test_bad_supervision_changes_nothing(people: People, world: World, client_for: Any) -> None:
    case = case_in(State.ACCEPTED, people, world)
    before = _unchanged(case)
    shift_lead = client_for(people.shift_lead)
    past = (clock.now() - timedelta(hours=1)).isoformat()
    cases = [
        ("supervise", {"kind": "urge", "note": "  "}, 422, "note_required"),
        ("supervise", {"kind": "urge", "note": "x", "due_at": past}, 422, "deadline_invalid"),
        ("supervise", {"kind": "shout", "note": "x"}, 422, "validation_error"),
        ("lift-supervision", {}, 422, "no_active_supervision"),
    ]
    for path, payload, status, code in cases:
        response = _post(shift_lead, case, path, payload)
        assert (response.status_code, response.json()["code"]) == (status, code)
    assert _unchanged(case) == before


def test_lifting_and_closing_clear_the_mark(people: People, world: World, client_for: Any) -> None:
    case = case_in(State.ACCEPTED, people, world)
    services.case_supervise(
        case=case, by=people.shift_lead, kind=SupervisionKind.SUPERVISE, note="督办"
    )
    body = _post(client_for(people.shift_lead), case, "lift-supervision", {"note": "已落实"}).json()
    assert body["supervision"] == ""
    assert body["supervisions"][0]["lifted_at"] is not None

    closed = case_in(State.SUBMITTED, people, world)
    services.case_supervise(
        case=closed, by=people.shift_lead, kind=SupervisionKind.SUPERVISE, note="督办"
    )
    services.case_check(case=closed, by=people.verifier, passed=True)
    services.case_close(case=closed, by=people.shift_lead)
    closed.refresh_from_db()
    assert closed.supervision == ""
    assert Supervision.objects.get(case=closed).lifted_by == people.shift_lead


def test_the_list_filters_supervised_cases(people: People, world: World, client_for: Any) -> None:
    plain = case_in(State.ACCEPTED, people, world)
    marked = case_in(State.ACCEPTED, people, world)
    services.case_supervise(case=marked, by=people.clerk, kind=SupervisionKind.URGE, note="催办")
    clerk = client_for(people.clerk)
    numbers = [c["number"] for c in clerk.get("/api/v1/cases?supervised=true").json()["items"]]
    others = [c["number"] for c in clerk.get("/api/v1/cases?supervised=false").json()["items"]]
    assert (numbers, others) == ([marked.number], [plain.number])
