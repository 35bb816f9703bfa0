"""The closed loop walked end to end through the API, as the people in the seed do it."""

from __future__ import annotations

from typing import Any

import pytest

from civicloop.cases.models import Case, CaseEvent, EventType, Photo, PhotoKind, State
from civicloop.conftest import IN_GRID, People, World, jpeg, photo_file

pytestmark = pytest.mark.usefixtures("categories")


def _json(client: Any, url: str, payload: dict[str, Any]) -> Any:
    return client.post(url, payload, content_type="application/json")


def test_resident_report_to_close_and_reopen(people: People, world: World, client_for: Any) -> None:
    resident = client_for(people.resident)
    # The full case in the 201, on request (the default is the short answer).
    response = resident.post(
        "/api/v1/cases?detail=true",
        {
            "category": "0102",
            "kind": "event",
            "description": "早上7点，王店村村口垃圾堆放无人清理",
            "lat": IN_GRID[0],
            "lon": IN_GRID[1],
            "address": "王店村村口",
            "photos": [photo_file("before.jpg")],
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    number = body["number"]
    assert body["state"] == "reported"
    assert body["source"] == "resident"
    assert body["town"] == {"code": "330782001000", "name": "稠城街道"}
    assert body["grid"]["code"] == "330782001001001"
    assert [p["kind"] for p in body["photos"]] == ["before"]
    url = f"/api/v1/cases/{number}"

    clerk = client_for(people.clerk)
    assert _json(clerk, f"{url}/file", {"note": "符合立案标准"}).json()["state"] == "filed"
    targets = [o["code"] for o in clerk.get(f"{url}/dispatch-targets").json()]
    assert targets == ["ccjd-hw", "ccjd-yl"]

    dispatcher = client_for(people.dispatcher)
    body = _json(dispatcher, f"{url}/dispatch", {"to": "ccjd-hw"}).json()
    assert (body["state"], body["assigned_org"], body["dispatch_count"]) == (
        "dispatched",
        "ccjd-hw",
        1,
    )

    handler = client_for(people.handler)
    assert _json(handler, f"{url}/claim", {}).json()["state"] == "accepted"
    body = handler.post(
        f"{url}/submit", {"note": "已清运", "photos": [photo_file("after.jpg", jpeg((1, 2, 3)))]}
    ).json()
    assert body["state"] == "submitted"

    shift_lead = client_for(people.shift_lead)
    early = _json(shift_lead, f"{url}/close", {})
    assert early.status_code == 409
    assert early.json()["code"] == "verification_required"

    verifier = client_for(people.verifier)
    assert (
        verifier.post(f"{url}/check", {"passed": "true", "note": "现场已清理干净"}).status_code
        == 200
    )
    body = _json(shift_lead, f"{url}/close", {"reason": "fixed"}).json()
    assert (body["state"], body["closure_reason"]) == ("closed", "fixed")
    assert body["closed_at"] is not None

    # The resident sees the public timeline, in order, and reopens within the window.
    seen = resident.get(url).json()
    assert [e["type"] for e in seen["timeline"]] == [
        "reported",
        "filed",
        "dispatched",
        "claimed",
        "submitted",
        "check_passed",
        "closed",
    ]
    assert "reopen" in seen["actions"]
    assert sorted(p["kind"] for p in seen["photos"]) == ["after", "before"]
    body = _json(resident, f"{url}/reopen", {"note": "垃圾又堆起来了"}).json()
    assert (body["state"], body["closed_at"], body["assigned_org"]) == ("reopened", None, None)

    # Invariants of §5.5 on the record.
    case = Case.objects.get(number=number)
    closed = CaseEvent.objects.get(case=case, type=EventType.CLOSED)
    submitted = CaseEvent.objects.get(case=case, type=EventType.SUBMITTED)
    assert Photo.objects.filter(event=submitted, kind=PhotoKind.AFTER).count() == 1
    assert (
        CaseEvent.objects.filter(case=case, type=EventType.CHECK_PASSED, seq__lt=closed.seq).count()
        == 1
    )
    assert list(CaseEvent.objects.filter(case=case).values_list("seq", flat=True)) == list(
        range(1, 9)
    )


def test_return_and_redispatch_then_rework(people: People, world: World, client_for: Any) -> None:
    resident = client_for(people.resident)
    number = resident.post(
        "/api/v1/cases",
        {
            "category": "0406",
            "kind": "component",
            "description": "公园护栏断裂",
            "lat": IN_GRID[0],
            "lon": IN_GRID[1],
        },
    ).json()["number"]
    url = f"/api/v1/cases/{number}"
    _json(client_for(people.clerk), f"{url}/file", {})
    dispatcher = client_for(people.dispatcher)
    _json(dispatcher, f"{url}/dispatch", {"to": "ccjd-hw"})

    handler = client_for(people.handler)
    no_reason = _json(handler, f"{url}/return", {"reason": "not_our_duty", "note": "  "})
    assert no_reason.status_code == 422
    assert no_reason.json()["code"] == "reason_required"
    assert Case.objects.get(number=number).state == State.DISPATCHED
    body = _json(
        handler, f"{url}/return", {"reason": "not_our_duty", "note": "护栏归园林所管养"}
    ).json()
    assert (body["state"], body["assigned_org"], body["return_count"]) == ("returned", None, 1)

    body = _json(dispatcher, f"{url}/dispatch", {"to": "ccjd-yl"}).json()
    assert (body["state"], body["assigned_org"], body["dispatch_count"]) == (
        "dispatched",
        "ccjd-yl",
        2,
    )

    parks = client_for(people.parks_handler)
    _json(parks, f"{url}/claim", {})
    no_photo = parks.post(f"{url}/submit", {"note": "已修复"})
    assert no_photo.status_code == 422
    assert no_photo.json()["code"] == "photos_required"
    parks.post(f"{url}/submit", {"note": "已修复", "photos": [photo_file()]})

    verifier = client_for(people.verifier)
    failed = verifier.post(f"{url}/check", {"passed": "false", "note": "焊接不牢"}).json()
    assert (failed["state"], failed["rework_count"]) == ("rework", 1)
    parks.post(
        f"{url}/submit", {"note": "重新焊接", "photos": [photo_file("again.jpg", jpeg((9, 9, 9)))]}
    )
    verifier.post(f"{url}/check", {"passed": "true"})
    body = _json(client_for(people.shift_lead), f"{url}/close", {}).json()
    assert (body["state"], body["rework_count"], body["return_count"]) == ("closed", 1, 1)


def test_grid_worker_resolves_on_the_spot(people: People, world: World, client_for: Any) -> None:
    worker = client_for(people.grid_worker)
    response = worker.post(
        "/api/v1/cases/on-spot",
        {
            "category": "0102",
            "kind": "event",
            "description": "桥头少量散落垃圾，已现场清理",
            "lat": IN_GRID[0],
            "lon": IN_GRID[1],
            "before": [photo_file("b.jpg")],
            "after": [photo_file("a.jpg", jpeg((0, 200, 0)))],
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["state"], body["source"], body["resolved_on_spot"]) == (
        "closed",
        "grid_worker",
        True,
    )
    assert [e["type"] for e in body["timeline"]] == [
        "reported",
        "filed",
        "submitted",
        "check_passed",
        "closed",
    ]
    assert sorted(p["kind"] for p in body["photos"]) == ["after", "before"]


def test_on_the_spot_outside_own_grid_is_refused(
    people: People, world: World, client_for: Any
) -> None:
    from civicloop.conftest import IN_GRID2

    worker = client_for(people.grid_worker)
    response = worker.post(
        "/api/v1/cases/on-spot",
        {
            "category": "0102",
            "kind": "event",
            "description": "别的网格",
            "lat": IN_GRID2[0],
            "lon": IN_GRID2[1],
            "before": [photo_file()],
            "after": [photo_file("a.jpg", jpeg((5, 5, 5)))],
        },
    )
    assert response.status_code == 403
    assert Case.objects.count() == 0


def test_extension_approval_moves_the_deadline(
    people: People, world: World, client_for: Any
) -> None:
    from civicloop.cases.tests.journeys import case_in

    case = case_in(State.ACCEPTED, people, world)
    old_due = case.due_at
    assert old_due is not None
    until = (old_due.replace(microsecond=0)).isoformat()
    handler = client_for(people.handler)
    url = f"/api/v1/cases/{case.number}"
    too_early = _json(handler, f"{url}/request-extension", {"until": until, "note": "需要更多时间"})
    assert too_early.status_code == 422
    assert too_early.json()["code"] == "deadline_invalid"
    from datetime import timedelta

    later = old_due + timedelta(days=2)
    _json(handler, f"{url}/request-extension", {"until": later.isoformat(), "note": "需要更多时间"})
    body = _json(client_for(people.dispatcher), f"{url}/decide-extension", {"approve": True}).json()
    assert body["state"] == "accepted"
    case.refresh_from_db()
    assert case.due_at == later


def test_merge_points_the_duplicate_at_its_parent(
    people: People, world: World, client_for: Any
) -> None:
    from civicloop.cases.tests.journeys import reported

    first, second = reported(people), reported(people)
    clerk = client_for(people.clerk)
    body = _json(clerk, f"/api/v1/cases/{second.number}/merge", {"into": first.number}).json()
    assert (body["state"], body["parent"]) == ("merged", first.number)
    into_self = _json(clerk, f"/api/v1/cases/{first.number}/merge", {"into": first.number})
    assert into_self.status_code == 422
    assert into_self.json()["code"] == "merge_target_invalid"
