"""Duplicates: suggestions before submitting, "我也遇到", and merging into a parent whose
followers include the duplicate's reporter and followers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from civicloop.cases import services
from civicloop.cases.duplicates import distance_m, duplicate_candidates
from civicloop.cases.models import Case, CaseEvent, CaseFollower, Category, FollowVia, State
from civicloop.cases.tests.journeys import case_in
from civicloop.conftest import IN_GRID, People, World
from civicloop.lib import clock

pytestmark = pytest.mark.usefixtures("categories")

LAT, LON = IN_GRID
NEAR = (LAT + 0.0009, LON)  # about 100 m north
FAR = (LAT + 0.0027, LON)  # about 300 m north


def _category(code: str = "0102") -> Category:
    return Category.objects.get(kind="event", full_code=code)


def _report(people: People, at: tuple[float, float], code: str = "0102", **kw: Any) -> Case:
    return services.case_report(
        by=kw.pop("by", people.volunteer),
        category=_category(code),
        description="垃圾堆放",
        lat=at[0],
        lon=at[1],
        address=kw.pop("address", ""),
        **kw,
    )


def test_distances_are_great_circle_metres() -> None:
    assert round(distance_m(LAT, LON, *NEAR)) == 100
    assert round(distance_m(LAT, LON, *FAR)) == 300
    assert distance_m(LAT, LON, LAT, LON) == 0


def test_open_cases_of_the_same_category_nearby_are_suggested(people: People, world: World) -> None:
    near = _report(people, NEAR, address="孝子祠社区北门")
    here = _report(people, IN_GRID)
    _report(people, FAR)  # outside 250 m
    _report(people, NEAR, code="0103")  # another 小类
    _report(people, NEAR, draft=True)  # a draft is nobody's business yet
    closed = case_in(State.REJECTED, people, world)  # at IN_GRID, but closed
    with clock.frozen(clock.now() - timedelta(days=31)):
        _report(people, IN_GRID)  # outside the 30-day window
    found = duplicate_candidates(category=_category(), lat=LAT, lon=LON)
    assert [(c.case, round(c.distance_m)) for c in found] == [(here, 0), (near, 100)]
    assert closed not in [c.case for c in found]


def test_the_radius_is_per_category(people: People, world: World) -> None:
    far = _report(people, FAR)
    Category.objects.filter(full_code="0102").update(duplicate_radius_m=500)
    found = duplicate_candidates(category=_category(), lat=LAT, lon=LON)
    assert [c.case for c in found] == [far]


def test_the_report_page_asks_before_submitting(
    people: People, world: World, client_for: Any
) -> None:
    near = _report(people, NEAR, address="孝子祠社区北门")
    services.case_follow(case=near, by=people.grid_worker)
    response = client_for(people.resident).get(
        "/api/v1/cases/duplicates", {"category": "0102", "kind": "event", "lat": LAT, "lon": LON}
    )
    assert response.status_code == 200
    [item] = response.json()
    assert item == {
        "number": near.number,
        "category": "0102",
        "category_name": "事件/市容环境/暴露垃圾",
        "state": "reported",
        "state_display": "已上报·待受理",
        "reported_at": item["reported_at"],
        "address": "孝子祠社区北门",
        "distance_m": 100.1,
        "followers": 1,
    }


def test_me_too_follows_a_case(people: People, world: World, client_for: Any) -> None:
    case = _report(people, NEAR)
    resident = client_for(people.resident)
    assert resident.get(f"/api/v1/cases/{case.number}").status_code == 404
    body = resident.post(f"/api/v1/cases/{case.number}/follow").json()
    assert (body["following"], body["follower_count"], body["reporter_name"]) == (True, 1, None)
    assert "unfollow" in body["actions"]
    assert [c["number"] for c in resident.get("/api/v1/cases").json()["items"]] == [case.number]
    # Followers see the public timeline, including the "我也遇到" step without names.
    case.refresh_from_db()
    services.case_add_note(case=case, by=people.clerk, text="重复上报者多", is_public=False)
    timeline = resident.get(f"/api/v1/cases/{case.number}").json()["timeline"]
    assert [(e["type"], e["actor"]) for e in timeline] == [("reported", None), ("followed", None)]
    again = resident.post(f"/api/v1/cases/{case.number}/follow")
    assert (again.status_code, again.json()["code"]) == (422, "already_following")
    assert CaseFollower.objects.filter(case=case).count() == 1
    assert resident.post(f"/api/v1/cases/{case.number}/unfollow").status_code == 404
    assert not CaseFollower.objects.filter(case=case).exists()
    assert resident.get(f"/api/v1/cases/{case.number}").status_code == 404


def test_what_cannot_be_followed(people: People, world: World, client_for: Any) -> None:
    own = _report(people, NEAR, by=people.resident)
    closed = case_in(State.CLOSED, people, world)
    resident = client_for(people.resident)
    mine = resident.post(f"/api/v1/cases/{own.number}/follow")
    assert (mine.status_code, mine.json()["code"]) == (422, "follow_invalid")
    stranger = client_for(people.stranger)
    assert stranger.post(f"/api/v1/cases/{closed.number}/follow").status_code == 404
    assert stranger.post("/api/v1/cases/YW000/follow").status_code == 404
    assert CaseFollower.objects.count() == 0
    versions = {c.pk: c.version for c in Case.objects.all()}
    assert versions == {own.pk: 1, closed.pk: Case.objects.get(pk=closed.pk).version}


def test_merging_moves_reporters_and_followers_to_the_parent(
    people: People, world: World, client_for: Any
) -> None:
    parent = _report(people, IN_GRID, by=people.grid_worker)
    duplicate = _report(people, NEAR, by=people.resident)
    services.case_follow(case=duplicate, by=people.volunteer)
    services.case_follow(case=parent, by=people.volunteer)  # already follows the parent
    clerk = client_for(people.clerk)
    suggested = clerk.get(f"/api/v1/cases/{duplicate.number}/duplicates").json()
    assert [s["number"] for s in suggested] == [parent.number]
    body = clerk.post(
        f"/api/v1/cases/{duplicate.number}/merge",
        {"into": parent.number},
        content_type="application/json",
    ).json()
    assert (body["state"], body["parent"]) == ("merged", parent.number)
    followers = set(CaseFollower.objects.filter(case=parent).values_list("user__name", "via"))
    assert followers == {("王芳", FollowVia.MERGED), ("陈红", FollowVia.ME_TOO)}
    merged_in = CaseEvent.objects.filter(case=parent).order_by("-seq")[0]
    assert (merged_in.type, merged_in.data, merged_in.is_public) == (
        "merged_in",
        {"from": duplicate.number, "followers": 1},
        True,
    )
    # The duplicate's reporter now sees the parent case.
    seen = client_for(people.resident).get(f"/api/v1/cases/{parent.number}").json()
    assert (seen["number"], seen["following"]) == (parent.number, True)
