"""The desks: who may open them, what each lists and counts, the filters, the boards."""

from __future__ import annotations

import pytest

from civicloop.cases import services
from civicloop.cases.models import Case, Category, SlaLevel, State, SupervisionKind
from civicloop.conftest import IN_GRID, IN_GRID2, IN_OTHER_TOWN, jpeg, photo_file


@pytest.mark.parametrize(
    ("url", "allowed", "denied"),
    [
        (
            "/centre/",
            ["clerk", "dispatcher", "shift_lead", "verifier"],
            ["resident", "handler", "grid_worker"],
        ),
        ("/centre/supervision/", ["shift_lead"], ["resident", "handler", "grid_worker"]),
        ("/centre/map/", ["clerk"], ["volunteer", "handler"]),
        ("/unit/", ["handler", "parks_handler"], ["resident", "clerk", "grid_worker"]),
        ("/grid/", ["grid_worker"], ["resident", "clerk", "handler"]),
        ("/grid/on-spot/", ["grid_worker"], ["resident", "clerk", "handler"]),
    ],
)
def test_a_desk_is_open_only_to_its_roles(client_for, people, url, allowed, denied):
    for who in allowed:
        assert client_for(getattr(people, who)).get(url).status_code == 200, who
    for who in denied:
        assert client_for(getattr(people, who)).get(url).status_code == 404, who


def test_the_centre_counts_each_queue(client_for, people, make_case):
    for state in [State.REPORTED, State.REPORTED, State.FILED, State.RETURNED, State.SUBMITTED]:
        make_case(state)
    context = client_for(people.clerk).get("/centre/").context
    assert context["counts"]["intake"] == 2
    assert context["counts"]["dispatch"] == 2
    assert context["counts"]["check"] == 1
    assert context["counts"]["approvals"] == 0
    assert context["queue"].key == "intake"


def test_the_centre_desk_lists_only_its_town(client_for, people, world, categories, make_case):
    ours = make_case(State.REPORTED)
    theirs = _report_at(people, IN_OTHER_TOWN)
    page = client_for(people.clerk).get("/centre/?queue=intake").content.decode()
    assert ours.number in page and theirs.number not in page
    other = client_for(people.other_clerk).get("/centre/?queue=intake").content.decode()
    assert theirs.number in other and ours.number not in other


def test_the_centre_filters(client_for, people, categories, make_case):
    garbage = make_case(State.REPORTED)
    railing = _report_at(people, IN_GRID2, code="0406", kind="component")
    client = client_for(people.clerk)
    by_category = client.get("/centre/?queue=intake&category=component-04").content.decode()
    assert railing.number in by_category and garbage.number not in by_category
    by_text = client.get("/centre/?queue=intake&q=护栏").content.decode()
    assert railing.number in by_text and garbage.number not in by_text
    by_region = client.get("/centre/?queue=intake&region=330782001001").content.decode()
    assert railing.number in by_region and garbage.number in by_region
    # A filter value that is not offered is ignored, never an error page.
    assert client.get("/centre/?region=999&source=nonsense").status_code == 200


def test_the_queue_reloads_in_place(client_for, people, make_case):
    make_case(State.REPORTED)
    response = client_for(people.clerk).get("/centre/?queue=intake", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="queue"')
    assert 'hx-trigger="case-changed from:body"' in body


def test_the_queue_costs_a_fixed_number_of_queries(
    client_for, people, make_case, django_assert_max_num_queries
):
    for _ in range(3):
        make_case(State.REPORTED)
    client = client_for(people.clerk)
    with django_assert_max_num_queries(12):
        client.get("/centre/?queue=intake")
    for _ in range(5):
        make_case(State.REPORTED)
    with django_assert_max_num_queries(12):
        client.get("/centre/?queue=intake")


def test_the_unit_desk_lists_what_the_unit_holds(client_for, people, make_case):
    dispatched = make_case(State.DISPATCHED)
    accepted = make_case(State.ACCEPTED)
    context = client_for(people.handler).get("/unit/").context
    assert context["counts"]["claim"] == 1 and context["counts"]["working"] == 1
    page = client_for(people.handler).get("/unit/?queue=claim").content.decode()
    assert dispatched.number in page and accepted.number not in page
    parks = client_for(people.parks_handler).get("/unit/?queue=claim").content.decode()
    assert dispatched.number not in parks


def test_the_grid_desk_lists_its_grid_and_tasks(client_for, people, categories, make_case):
    verifying = make_case(State.VERIFYING)
    submitted = make_case(State.SUBMITTED)
    elsewhere = _report_at(people, IN_GRID2)
    closed = make_case(State.CLOSED)
    context = client_for(people.grid_worker).get("/grid/").context
    assert [c.number for c in context["verify"]] == [verifying.number]
    assert [c.number for c in context["check"]] == [submitted.number]
    listed = {c.number for c in context["page"]}
    assert verifying.number in listed and submitted.number in listed
    assert elsewhere.number not in listed and closed.number not in listed
    assert {p["number"] for p in context["points"]} == listed


def test_the_supervision_board_shows_supervised_and_late_cases(client_for, people, make_case):
    supervised = make_case(State.ACCEPTED)
    services.case_supervise(
        case=supervised, by=people.shift_lead, kind=SupervisionKind.SUPERVISE, note="三日内办结"
    )
    warned, late, very_late = (make_case(State.ACCEPTED) for _ in range(3))
    # The levels are what the SLA sweep (issue 3) writes on the case.
    Case.objects.filter(pk=warned.pk).update(sla_level=SlaLevel.WARNING)
    Case.objects.filter(pk=late.pk).update(sla_level=SlaLevel.OVERDUE)
    Case.objects.filter(pk=very_late.pk).update(sla_level=SlaLevel.SERIOUS)
    Case.objects.filter(pk=make_case(State.CLOSED).pk).update(sla_level=SlaLevel.SERIOUS)
    response = client_for(people.shift_lead).get("/centre/supervision/")
    sections = {s.key: [c.number for c in cases] for s, _n, cases in response.context["sections"]}
    assert sections == {
        "supervised": [supervised.number],
        "serious": [very_late.number],
        "overdue": [late.number],
        "warning": [warned.number],
    }
    page = response.content.decode()
    assert "督办" in page and "严重超期" in page and "临期预警" in page


def test_the_centre_map_has_the_open_cases(client_for, people, make_case):
    open_case = make_case(State.FILED)
    make_case(State.CLOSED)
    context = client_for(people.clerk).get("/centre/map/").context
    assert [p["number"] for p in context["points"]] == [open_case.number]
    assert context["points"][0]["url"] == f"/cases/{open_case.number}/"


def test_a_grid_worker_resolves_on_the_spot(client_for, people, categories):
    category = Category.objects.get(full_code="0102", kind="event")
    data = {
        "category": category.pk,
        "description": "路边散落垃圾，已现场清理",
        "lat": IN_GRID[0],
        "lon": IN_GRID[1],
        "before": [photo_file("before.jpg")],
        "after": [photo_file("after.jpg", jpeg((5, 160, 5)))],
    }
    response = client_for(people.grid_worker).post("/grid/on-spot/", data)
    case = Case.objects.get()
    assert response["Location"] == f"/cases/{case.number}/"
    assert case.state == State.CLOSED and case.resolved_on_spot


def test_on_the_spot_needs_both_photos_and_ones_own_grid(client_for, people, categories):
    category = Category.objects.get(full_code="0102", kind="event")
    client = client_for(people.grid_worker)
    data = {"category": category.pk, "description": "x", "lat": IN_GRID[0], "lon": IN_GRID[1]}
    body = client.post("/grid/on-spot/", data).content.decode()
    assert "请至少上传1张处置前照片" in body and "请至少上传1张处置后照片" in body
    data.update(
        lat=IN_GRID2[0],
        lon=IN_GRID2[1],
        before=[photo_file("b.jpg")],
        after=[photo_file("a.jpg")],
    )
    response = client.post("/grid/on-spot/", data)
    assert response.status_code == 422
    assert "您的角色无权执行“自处置（仅限本人负责的网格）”" in response.content.decode()
    assert not Case.objects.exists()


def _report_at(people, point, code: str = "0102", kind: str = "event") -> Case:
    category = Category.objects.get(full_code=code, kind=kind)
    description = "公园护栏损坏" if code == "0406" else "垃圾堆放"
    return services.case_report(
        by=people.resident, category=category, description=description, lat=point[0], lon=point[1]
    )
