"""Who sees what: outside one's jurisdiction a case does not exist."""

from __future__ import annotations

from typing import Any

import pytest

from civicloop.cases import services
from civicloop.cases.models import Case, State
from civicloop.cases.tests.journeys import case_in, reported
from civicloop.conftest import People, World

pytestmark = pytest.mark.usefixtures("categories")


def _visible(client: Any) -> list[str]:
    return [c["number"] for c in client.get("/api/v1/cases").json()["items"]]


def test_a_department_cannot_see_another_departments_case(
    people: People, world: World, client_for: Any
) -> None:
    case = case_in(State.ACCEPTED, people, world)  # held by 环卫所
    parks = client_for(people.parks_handler)
    response = parks.get(f"/api/v1/cases/{case.number}")
    assert response.status_code == 404
    assert response.json() == {"code": "case_not_found", "message": "案件不存在或您无权查看"}
    assert _visible(parks) == []
    # Nor act on it: still not found, and nothing changed.
    denied = parks.post(f"/api/v1/cases/{case.number}/submit", {"note": "x"})
    assert denied.status_code == 404
    case.refresh_from_db()
    assert (case.state, case.version) == (State.ACCEPTED, 4)
    assert _visible(client_for(people.handler)) == [case.number]


def test_another_town_sees_nothing(people: People, world: World, client_for: Any) -> None:
    case = reported(people)
    other = client_for(people.other_clerk)
    assert other.get(f"/api/v1/cases/{case.number}").status_code == 404
    response = other.post(f"/api/v1/cases/{case.number}/file", {}, content_type="application/json")
    assert response.status_code == 404
    assert Case.objects.get(pk=case.pk).state == State.REPORTED
    assert _visible(other) == []
    assert _visible(client_for(people.clerk)) == [case.number]


def test_a_unit_keeps_sight_of_a_case_it_returned(
    people: People, world: World, client_for: Any
) -> None:
    case = case_in(State.RETURNED, people, world)
    assert _visible(client_for(people.handler)) == [case.number]


def test_residents_see_only_their_own_cases(people: People, world: World, client_for: Any) -> None:
    mine = reported(people)
    services.case_report(
        by=people.volunteer,
        category=mine.category,
        description="志愿者发现的问题",
        lat=mine.lat,
        lon=mine.lon,
    )
    assert _visible(client_for(people.resident)) == [mine.number]
    assert len(_visible(client_for(people.clerk))) == 2
    assert _visible(client_for(people.stranger)) == []


def test_internal_notes_are_hidden_from_the_reporter(
    people: People, world: World, client_for: Any
) -> None:
    case = reported(people)
    clerk = client_for(people.clerk)
    clerk.post(
        f"/api/v1/cases/{case.number}/notes",
        {"text": "此人多次重复上报", "is_public": False},
        content_type="application/json",
    )
    clerk.post(
        f"/api/v1/cases/{case.number}/notes",
        {"text": "已安排人员前往", "is_public": True},
        content_type="application/json",
    )
    seen_by_reporter = client_for(people.resident).get(f"/api/v1/cases/{case.number}").json()
    assert [e["note"] for e in seen_by_reporter["timeline"]] == ["", "已安排人员前往"]
    seen_by_clerk = clerk.get(f"/api/v1/cases/{case.number}").json()
    assert [e["type"] for e in seen_by_clerk["timeline"]] == ["reported", "note", "public_update"]


def test_anonymous_reporter_is_hidden_from_departments_but_not_the_centre(
    people: People, world: World, client_for: Any
) -> None:
    case = reported(people, is_anonymous=True)
    services.case_file(case=case, by=people.clerk)
    services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
    url = f"/api/v1/cases/{case.number}"
    assert client_for(people.handler).get(url).json()["reporter_name"] is None
    assert client_for(people.clerk).get(url).json()["reporter_name"] == "王芳"
    assert client_for(people.resident).get(url).json()["reporter_name"] == "王芳"
    timeline = client_for(people.handler).get(url).json()["timeline"]
    assert timeline[0]["actor"] is None


def test_drafts_are_the_reporters_own(people: People, world: World, client_for: Any) -> None:
    draft = reported(people, draft=True)
    assert client_for(people.clerk).get(f"/api/v1/cases/{draft.number}").status_code == 404
    body = (
        client_for(people.resident)
        .post(f"/api/v1/cases/{draft.number}/submit-draft", {}, content_type="application/json")
        .json()
    )
    assert body["state"] == "reported"
    assert client_for(people.clerk).get(f"/api/v1/cases/{draft.number}").status_code == 200


def test_unauthenticated_requests_are_refused(world: World, client: Any) -> None:
    response = client.get("/api/v1/cases")
    assert response.status_code == 401
    assert response.json() == {"code": "unauthenticated", "message": "请先登录"}


def test_original_photo_with_exif_is_for_staff_only(
    people: People, world: World, client_for: Any
) -> None:
    case = reported(people)
    photo = case.photos.get()
    url = f"/api/v1/cases/{case.number}/photos/{photo.pk}/original"
    assert client_for(people.resident).get(url).status_code == 404
    response = client_for(people.clerk).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
