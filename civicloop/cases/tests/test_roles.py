"""Role gates: a visible case, the right state, the wrong role → 403 and nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from civicloop.cases.models import Case, CaseEvent, State
from civicloop.cases.tests.journeys import case_in
from civicloop.conftest import People, World

pytestmark = pytest.mark.usefixtures("categories")

CASES = [
    # (state, path, persona, payload)
    (State.REPORTED, "file", "dispatcher", {}),
    (State.REPORTED, "file", "grid_worker", {}),
    (State.REPORTED, "reject", "resident", {"reason": "invalid", "note": "x"}),
    (State.FILED, "dispatch", "clerk", {"to": "ccjd-hw"}),
    (State.FILED, "dispatch", "verifier", {"to": "ccjd-hw"}),
    (State.SUBMITTED, "close", "clerk", {}),
    (State.SUBMITTED, "close", "dispatcher", {}),
    (State.SUSPENSION_REQUESTED, "decide-suspension", "handler", {"approve": True}),
    (State.EXTENSION_REQUESTED, "decide-extension", "handler", {"approve": True}),
    (State.CLOSED, "reopen", "grid_worker", {"note": "复发"}),
]


@pytest.mark.parametrize(("state", "path", "persona", "payload"), CASES)
def test_wrong_role_is_forbidden(
    state: State,
    path: str,
    persona: str,
    payload: dict[str, Any],
    people: People,
    world: World,
    client_for: Any,
) -> None:
    case = case_in(state, people, world)
    before = (case.version, CaseEvent.objects.filter(case=case).count())
    response = client_for(getattr(people, persona)).post(
        f"/api/v1/cases/{case.number}/{path}", payload, content_type="application/json"
    )
    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "role_not_allowed"
    after = Case.objects.get(pk=case.pk)
    assert (after.state, after.version, CaseEvent.objects.filter(case=case).count()) == (
        state,
        *before,
    )


def test_dispatch_to_another_towns_unit_is_refused(
    people: People, world: World, client_for: Any
) -> None:
    case = case_in(State.FILED, people, world)
    response = client_for(people.dispatcher).post(
        f"/api/v1/cases/{case.number}/dispatch", {"to": "byjd-hw"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "dispatch_target_invalid"
    assert Case.objects.get(pk=case.pk).assigned_org_id is None


def test_stale_version_is_a_conflict(people: People, world: World, client_for: Any) -> None:
    case = case_in(State.REPORTED, people, world)
    response = client_for(people.clerk).post(
        f"/api/v1/cases/{case.number}/file",
        {"version": case.version - 1 or 99},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "case_conflict"
    assert Case.objects.get(pk=case.pk).state == State.REPORTED
