"""Taking the actions of the closed loop from the case page: forms, services, permissions."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from civicloop.cases.models import Case, EventType, State
from civicloop.conftest import jpeg, photo_file

HX = {"HX-Request": "true"}


def act(client, case: Case, name: str, data: dict | None = None, **kw):
    """Post an action form the way the page does: prefixed fields and the version seen."""
    fields = {f"{name}-version": case.version}
    fields.update({f"{name}-{k}": v for k, v in (data or {}).items()})
    return client.post(f"/cases/{case.number}/do/{name}/", fields, **kw)


def state_of(case: Case) -> str:
    case.refresh_from_db()
    return case.state


def test_the_centre_files_and_dispatches(client_for, people, world, make_case):
    case = make_case(State.REPORTED)
    response = act(client_for(people.clerk), case, "file", {"urgency": "urgent", "note": "属实"})
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.number}/"
    assert state_of(case) == State.FILED
    assert case.urgency == "urgent"
    act(client_for(people.dispatcher), case, "dispatch", {"to": world.sanitation.code})
    assert state_of(case) == State.DISPATCHED
    assert case.assigned_org == world.sanitation


def test_the_dispatch_form_lists_the_units_of_the_case_area(client_for, people, make_case):
    case = make_case(State.FILED)
    page = client_for(people.dispatcher).get(f"/cases/{case.number}/").content.decode()
    assert 'value="ccjd-hw"' in page and 'value="ccjd-yl"' in page
    assert 'value="byjd-hw"' not in page


def test_a_unit_outside_the_area_cannot_be_chosen(client_for, people, world, make_case):
    case = make_case(State.FILED)
    response = act(client_for(people.dispatcher), case, "dispatch", {"to": "byjd-hw"})
    assert response.status_code == 422
    assert "该单位不能承办此案件，请重新选择" in response.content.decode()
    assert state_of(case) == State.FILED


def test_an_htmx_action_swaps_the_panel_and_announces_the_change(client_for, people, make_case):
    case = make_case(State.DISPATCHED)
    response = act(client_for(people.handler), case, "claim", headers=HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="case-panel"')
    assert "已签收" in body
    assert json.loads(response["HX-Trigger"]) == {"case-changed": {"number": case.number}}
    assert state_of(case) == State.ACCEPTED


@pytest.mark.parametrize(
    ("state", "who", "name", "data", "message"),
    [
        (State.REPORTED, "clerk", "reject", {"reason": "invalid"}, "请填写不予受理的说明"),
        (State.REPORTED, "clerk", "reject", {"note": "x"}, "请选择不予受理的原因"),
        (State.REPORTED, "clerk", "merge", {"into": "YW404"}, "未找到案件“YW404”"),
        (State.FILED, "dispatcher", "dispatch", {}, "请选择承办单位"),
        (State.DISPATCHED, "handler", "return", {"reason": "other"}, "请填写退回理由"),
        (State.DISPATCHED, "handler", "return", {"note": "x"}, "请选择退回原因"),
        (State.ACCEPTED, "handler", "submit", {"note": "已清理"}, "请至少上传1张处置后照片"),
        (State.ACCEPTED, "handler", "request_extension", {"note": "x"}, "请选择延期后的期限"),
        (
            State.ACCEPTED,
            "handler",
            "request_extension",
            {"note": "x", "until": "明天"},
            "请按“年-月-日 时:分”填写期限",
        ),
        (State.ACCEPTED, "handler", "request_suspension", {}, "请填写申请缓办的理由"),
        (State.SUBMITTED, "verifier", "check_fail", {}, "请填写核查不通过的原因"),
        (State.EXTENSION_REQUESTED, "dispatcher", "deny_extension", {}, "请填写驳回延期的理由"),
        (State.SUSPENSION_REQUESTED, "dispatcher", "deny_suspension", {}, "请填写驳回缓办的理由"),
        (State.CLOSED, "resident", "reopen", {}, "请填写重新打开的原因"),
        (State.VERIFYING, "grid_worker", "confirm_on_site", {}, "请选择现场是否存在该问题"),
    ],
)
def test_every_action_form_says_what_is_missing(
    client_for, people, make_case, state, who, name, data, message
):
    case = make_case(state)
    version = case.version
    response = act(client_for(getattr(people, who)), case, name, data, headers=HX)
    assert response.status_code == 422
    assert message in response.content.decode()
    case.refresh_from_db()
    assert (case.state, case.version) == (state, version)


def test_a_past_extension_deadline_is_refused_by_the_service(client_for, people, make_case):
    case = make_case(State.ACCEPTED)
    past = (timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = act(
        client_for(people.handler), case, "request_extension", {"until": past, "note": "x"}
    )
    assert response.status_code == 422
    assert "延期后的期限必须晚于当前期限" in response.content.decode()


def test_the_unit_rectifies_with_an_after_photo(client_for, people, make_case):
    case = make_case(State.ACCEPTED)
    response = act(
        client_for(people.handler),
        case,
        "submit",
        {"note": "已清理完毕", "photos": [photo_file("after.jpg", jpeg((9, 200, 9)))]},
    )
    assert response.status_code == 302
    assert state_of(case) == State.SUBMITTED
    assert case.photos.filter(kind="after").count() == 1


def test_check_pass_then_close(client_for, people, make_case):
    case = make_case(State.SUBMITTED)
    act(client_for(people.verifier), case, "check_pass")
    case.refresh_from_db()
    assert case.checked_at is not None
    act(client_for(people.shift_lead), case, "close", {"reason": "fixed"})
    assert state_of(case) == State.CLOSED


def test_check_fail_sends_the_case_back_for_rework(client_for, people, make_case):
    case = make_case(State.SUBMITTED)
    act(client_for(people.verifier), case, "check_fail", {"note": "仍有残留"})
    assert state_of(case) == State.REWORK
    assert case.rework_count == 1


def test_an_extension_is_requested_and_approved(client_for, people, make_case):
    case = make_case(State.ACCEPTED)
    until = (timezone.localtime() + timedelta(days=10)).replace(second=0, microsecond=0)
    act(
        client_for(people.handler),
        case,
        "request_extension",
        {"until": until.strftime("%Y-%m-%dT%H:%M"), "note": "需要调车"},
    )
    assert state_of(case) == State.EXTENSION_REQUESTED
    queue = client_for(people.dispatcher).get("/centre/?queue=approvals").content.decode()
    assert case.number in queue and "需要调车" in queue
    act(client_for(people.dispatcher), case, "approve_extension")
    assert state_of(case) == State.ACCEPTED
    assert case.due_at == until


def test_the_reporter_reopens_a_closed_case(client_for, people, make_case):
    case = make_case(State.CLOSED)
    act(client_for(people.resident), case, "reopen", {"note": "垃圾又堆回来了"})
    assert state_of(case) == State.REOPENED


def test_an_action_outside_ones_role_is_not_found(client_for, people, make_case):
    case = make_case(State.FILED)
    version = case.version
    assert act(client_for(people.resident), case, "dispatch", {"to": "ccjd-hw"}).status_code == 404
    assert act(client_for(people.handler), case, "file").status_code == 404
    assert act(client_for(people.clerk), case, "no_such_action").status_code == 404
    case.refresh_from_db()
    assert (case.state, case.version) == (State.FILED, version)


def test_an_action_on_a_case_outside_ones_scope_is_not_found(client_for, people, make_case):
    case = make_case(State.DISPATCHED)
    assert act(client_for(people.other_handler), case, "claim").status_code == 404
    assert act(client_for(people.parks_handler), case, "claim").status_code == 404
    assert act(client_for(people.other_clerk), case, "reject").status_code == 404
    assert state_of(case) == State.DISPATCHED


def test_an_action_the_state_no_longer_allows_is_a_conflict(client_for, people, make_case):
    case = make_case(State.ACCEPTED)
    response = act(client_for(people.handler), case, "claim", headers=HX)
    assert response.status_code == 409
    assert "不能执行“签收”" in response.content.decode()


def test_a_stale_page_is_a_conflict(client_for, people, make_case):
    case = make_case(State.SUBMITTED)
    seen = case.version
    act(client_for(people.verifier), case, "check_pass")
    response = client_for(people.shift_lead).post(
        f"/cases/{case.number}/do/close/", {"close-version": seen - 1, "close-reason": "fixed"}
    )
    assert response.status_code == 409
    assert "案件已被他人处理，请刷新后重试" in response.content.decode()
    assert state_of(case) == State.SUBMITTED


def test_close_without_a_passing_check_is_refused(client_for, people, make_case):
    case = make_case(State.SUBMITTED)
    response = act(client_for(people.shift_lead), case, "close", {"reason": "fixed"}, headers=HX)
    assert response.status_code == 409
    assert "核查通过后才能结案" in response.content.decode()


def test_next_takes_the_user_back_to_the_desk(client_for, people, make_case):
    case = make_case(State.REPORTED)
    response = client_for(people.clerk).post(
        f"/cases/{case.number}/do/file/?next=/centre/%3Fqueue%3Dintake",
        {"file-version": case.version, "file-urgency": "normal"},
    )
    assert response["Location"] == "/centre/?queue=intake"
    other = make_case(State.REPORTED)
    evil = client_for(people.clerk).post(
        f"/cases/{other.number}/do/request_verification/?next=https://evil.example/",
        {"request_verification-version": other.version},
    )
    assert evil["Location"] == f"/cases/{other.number}/"


def test_notes_internal_and_public(client_for, people, make_case):
    case = make_case(State.FILED)
    client_for(people.clerk).post(f"/cases/{case.number}/note/", {"text": "内部备注"})
    client_for(people.clerk).post(
        f"/cases/{case.number}/note/", {"text": "已安排处理", "is_public": "on"}
    )
    client_for(people.resident).post(f"/cases/{case.number}/note/", {"text": "补充：晚上更严重"})
    events = list(case.events.filter(type__in=[EventType.NOTE, EventType.PUBLIC_UPDATE]))
    assert [(e.note, e.is_public) for e in events] == [
        ("内部备注", False),
        ("已安排处理", True),
        ("补充：晚上更严重", True),
    ]
    empty = client_for(people.clerk).post(f"/cases/{case.number}/note/", {"text": ""})
    assert empty.status_code == 422
    assert "请填写内容" in empty.content.decode()


def test_the_grid_worker_confirms_on_site_with_a_photo(client_for, people, make_case):
    case = make_case(State.VERIFYING)
    grid = client_for(people.grid_worker)
    assert case.number in grid.get("/grid/").content.decode()
    response = act(
        grid, case, "confirm_on_site", {"exists": "1", "photos": [photo_file("site.jpg")]}
    )
    assert response.status_code == 302
    event = case.events.get(type=EventType.SITE_CONFIRMED)
    assert event.data["exists"] is True and event.photos.count() == 1
    assert event.is_public is False
