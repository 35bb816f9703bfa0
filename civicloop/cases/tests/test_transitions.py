"""Golden transition tests: every action from every state of civic-loop.md §5.5 through the
API. Allowed ones move the case and append exactly one event; all others answer 409 (or 404
where the actor cannot see the case) and change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from civicloop.cases.models import Case, CaseEvent, State, SupervisionKind
from civicloop.cases.selectors import case_queryset_for
from civicloop.cases.tests.journeys import case_in, reported
from civicloop.cases.workflow import ACTIONS
from civicloop.conftest import People, World, photo_file
from civicloop.lib import clock

pytestmark = pytest.mark.usefixtures("categories")

# action → (path, persona, payload, multipart, state after success)
SPECS: dict[str, tuple[str, str, dict[str, Any], bool]] = {
    "submit_draft": ("submit-draft", "resident", {}, False),
    "request_verification": ("request-verification", "clerk", {}, False),
    "confirm_on_site": ("confirm-on-site", "grid_worker", {"exists": "true", "note": "属实"}, True),
    "file": ("file", "clerk", {"note": "符合立案标准"}, False),
    "reject": ("reject", "clerk", {"reason": "invalid", "note": "现场未发现"}, False),
    "reinstate": ("reinstate", "clerk", {}, False),
    "merge": ("merge", "clerk", {}, False),
    "dispatch": ("dispatch", "dispatcher", {"to": "ccjd-hw"}, False),
    "return": ("return", "handler", {"reason": "not_our_duty", "note": "非环卫职责"}, False),
    "claim": ("claim", "handler", {}, False),
    "request_extension": ("request-extension", "handler", {"note": "需调派车辆"}, False),
    "approve_extension": ("decide-extension", "dispatcher", {"approve": True}, False),
    "deny_extension": (
        "decide-extension",
        "dispatcher",
        {"approve": False, "note": "时限充足"},
        False,
    ),
    "request_suspension": ("request-suspension", "handler", {"note": "等待产权确认"}, False),
    "approve_suspension": ("decide-suspension", "dispatcher", {"approve": True}, False),
    "deny_suspension": (
        "decide-suspension",
        "dispatcher",
        {"approve": False, "note": "不符合缓办条件"},
        False,
    ),
    "resume": ("resume", "dispatcher", {}, False),
    "submit": ("submit", "handler", {"note": "已清理"}, True),
    "check_pass": ("check", "verifier", {"passed": "true"}, True),
    "check_fail": ("check", "verifier", {"passed": "false", "note": "仍有残留"}, True),
    "close": ("close", "shift_lead", {}, False),
    "reopen": ("reopen", "resident", {"note": "问题复发"}, False),
    "supervise": ("supervise", "shift_lead", {"kind": "supervise", "note": "请加快处置"}, False),
    "lift_supervision": ("lift-supervision", "shift_lead", {"note": "已落实"}, False),
    "recall": ("recall", "dispatcher", {"note": "派遣有误"}, False),
    "reclassify": ("reclassify", "clerk", {"urgency": "urgent", "note": "升级为紧急"}, False),
    "add_assist": ("assist", "dispatcher", {"to": "ccjd-yl"}, False),
    "end_assist": ("end-assist", "dispatcher", {"org": "ccjd-yl"}, False),
    "rate": ("rate", "resident", {"satisfaction": "satisfied"}, False),
}


def test_every_action_has_a_spec() -> None:
    assert set(SPECS) == set(ACTIONS)


def _post(client: Any, case: Case, name: str, people: People) -> Any:
    path, _persona, payload, multipart = SPECS[name]
    payload = dict(payload)
    if name == "merge":
        payload["into"] = reported(people).number
    if name == "request_extension":
        payload["until"] = (clock.now() + timedelta(days=5)).isoformat()
    url = f"/api/v1/cases/{case.number}/{path}"
    if multipart:
        if name == "submit":
            payload["photos"] = [photo_file()]
        return client.post(url, payload)
    return client.post(url, payload, content_type="application/json")


def _snapshot(case: Case) -> tuple[Any, ...]:
    fresh = Case.objects.get(pk=case.pk)
    return (
        fresh.state,
        fresh.version,
        fresh.assigned_org_id,
        CaseEvent.objects.filter(case=case).count(),
    )


ALL_STATES = list(State)


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("state", ALL_STATES, ids=[s.value for s in ALL_STATES])
def test_action_from_state(
    name: str, state: State, people: People, world: World, client_for: Any
) -> None:
    action = ACTIONS[name]
    case = case_in(state, people, world)
    if name == "close" and state == State.SUBMITTED:
        from civicloop.cases import services

        services.case_check(case=case, by=people.verifier, passed=True)
    if name == "end_assist" and state in action.sources:
        from civicloop.cases import services

        services.case_assist_add(case=case, to=world.parks, by=people.dispatcher)
    if name == "lift_supervision" and state in action.sources:
        from civicloop.cases import services

        services.case_supervise(
            case=case, by=people.clerk, kind=SupervisionKind.URGE, note="请尽快处理"
        )
    actor = getattr(people, SPECS[name][1])
    before = _snapshot(case)
    response = _post(client_for(actor), case, name, people)
    if state in action.sources:
        assert response.status_code == 200, response.json()
        body = response.json()
        expected = action.target or state
        assert body["state"] == expected
        after = Case.objects.get(pk=case.pk)
        assert after.version == before[1] + 1
        last = CaseEvent.objects.filter(case=case).order_by("-seq").first()
        assert last is not None and last.type == action.event and last.seq == after.version
        assert last.actor == actor
    else:
        visible = case_queryset_for(actor).filter(pk=case.pk).exists()
        assert response.status_code == (409 if visible else 404), response.json()
        assert response.json()["code"] == ("invalid_transition" if visible else "case_not_found")
        assert _snapshot(case) == before
