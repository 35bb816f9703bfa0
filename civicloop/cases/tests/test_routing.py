"""Routing rules: 事件 先属地后属主, 部件 先属主后属地; suggestions in the API, auto-dispatch,
re-routing when the category or the location changes, and the dispatch record."""

from __future__ import annotations

from typing import Any

import pytest

from civicloop.accounts.models import Organisation, OrgKind
from civicloop.cases import routing, services
from civicloop.cases.models import (
    Case,
    CaseClock,
    CaseEvent,
    Category,
    CategoryKind,
    Dispatch,
    DispatchOutcome,
    ReturnReason,
    RoutingRule,
    Stage,
    State,
)
from civicloop.cases.tests.journeys import case_in, reported
from civicloop.conftest import IN_GRID, IN_OTHER_TOWN, People, World

pytestmark = pytest.mark.usefixtures("categories")


def _category(kind: str, code: str) -> Category:
    return Category.objects.get(kind=kind, full_code=code)


def _city_unit(world: World, code: str, name: str) -> Organisation:
    return Organisation.objects.create(
        code=code, name=name, kind=OrgKind.DEPARTMENT, region=world.city
    )


def _rule(org: Organisation, kind: str, **kw: Any) -> RoutingRule:
    return RoutingRule.objects.create(organisation=org, kind=kind, **kw)


def _component_case(people: People) -> Case:
    return services.case_report(
        by=people.resident,
        category=_category("component", "0406"),
        description="公园护栏断裂",
        lat=IN_GRID[0],
        lon=IN_GRID[1],
    )


def test_events_go_to_the_territory_first(people: People, world: World) -> None:
    city_sanitation = _city_unit(world, "yw-hw", "义乌市环卫处")
    _rule(city_sanitation, CategoryKind.EVENT, category=_category("event", "0102"))
    _rule(world.sanitation, CategoryKind.EVENT, region=world.town)
    case = reported(people)
    route = routing.route_for(case)
    assert route is not None
    assert (route.organisation, route.principle) == (world.sanitation, "事件：先属地、后属主")
    assert [r.organisation for r in routing.matching_rules(case)] == [
        world.sanitation,
        city_sanitation,
    ]


def test_components_go_to_the_owner_first(people: People, world: World) -> None:
    city_parks = _city_unit(world, "yw-yl", "义乌市园林管理处")
    _rule(city_parks, CategoryKind.COMPONENT, category=_category("component", "0406"))
    _rule(world.parks, CategoryKind.COMPONENT, region=world.town)
    route = routing.route_for(_component_case(people))
    assert route is not None
    assert (route.organisation, route.principle) == (city_parks, "部件：先属主、后属地")


def test_a_rule_for_a_unit_that_cannot_take_the_case_is_ignored(
    people: People, world: World
) -> None:
    _rule(world.other_sanitation, CategoryKind.EVENT)  # 北苑 does not cover 稠城
    _rule(world.parks, CategoryKind.EVENT, priority=-1)
    route = routing.route_for(reported(people))
    assert route is not None and route.organisation == world.parks


def test_the_suggestion_is_in_the_api(people: People, world: World, client_for: Any) -> None:
    city_sanitation = _city_unit(world, "yw-hw", "义乌市环卫处")
    _rule(city_sanitation, CategoryKind.EVENT, category=_category("event", "0102"))
    rule = _rule(world.sanitation, CategoryKind.EVENT, region=world.town)
    case = case_in(State.FILED, people, world)
    dispatcher = client_for(people.dispatcher)
    body = dispatcher.get(f"/api/v1/cases/{case.number}/route").json()
    assert body == {
        "organisation": {
            "code": "ccjd-hw",
            "name": "稠城街道环卫所",
            "kind": "department",
            "region": world.town.code,
            "suggested": True,
        },
        "auto": False,
        "principle": "事件：先属地、后属主",
        "rule": rule.pk,
        "alternatives": [
            {
                "code": "yw-hw",
                "name": "义乌市环卫处",
                "kind": "department",
                "region": world.city.code,
                "suggested": False,
            }
        ],
    }
    targets = dispatcher.get(f"/api/v1/cases/{case.number}/dispatch-targets").json()
    assert [(t["code"], t["suggested"]) for t in targets] == [
        ("yw-hw", False),
        ("ccjd-hw", True),
        ("ccjd-yl", False),
    ]
    assert client_for(people.resident).get(f"/api/v1/cases/{case.number}/route").status_code == 404


def test_dispatches_record_the_suggestion_and_the_outcome(people: People, world: World) -> None:
    _rule(world.sanitation, CategoryKind.EVENT, region=world.town)
    case = case_in(State.FILED, people, world)
    services.case_dispatch(case=case, to=world.parks, by=people.dispatcher)
    services.case_return(
        case=case, by=people.parks_handler, reason=ReturnReason.NOT_OUR_DUTY, note="非园林"
    )
    services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
    services.case_claim(case=case, by=people.handler)
    rows = list(
        Dispatch.objects.filter(case=case)
        .order_by("id")
        .values_list("organisation", "by", "is_auto", "suggested", "outcome")
    )
    assert rows == [
        (world.parks.pk, people.dispatcher.pk, False, world.sanitation.pk, "returned"),
        (world.sanitation.pk, people.dispatcher.pk, False, world.sanitation.pk, "claimed"),
    ]
    first = CaseEvent.objects.filter(case=case, type="dispatched").order_by("seq")[0]
    assert first.data == {"to": "ccjd-yl", "suggested": "ccjd-hw"}


def test_filing_dispatches_automatically_when_the_rule_says_so(
    people: People, world: World, client_for: Any
) -> None:
    rule = _rule(world.sanitation, CategoryKind.EVENT, region=world.town, auto_dispatch=True)
    case = reported(people)
    body = (
        client_for(people.clerk)
        .post(f"/api/v1/cases/{case.number}/file", {}, content_type="application/json")
        .json()
    )
    assert (body["state"], body["assigned_org"], body["dispatch_count"]) == (
        "dispatched",
        "ccjd-hw",
        1,
    )
    auto = CaseEvent.objects.filter(case=case).order_by("-seq")[0]
    assert (auto.type, auto.actor, auto.from_state, auto.to_state, auto.data) == (
        "dispatched",
        None,
        "filed",
        "dispatched",
        {"to": "ccjd-hw", "suggested": "ccjd-hw", "auto": True, "rule": rule.pk},
    )
    dispatch = Dispatch.objects.get(case=case)
    assert (dispatch.is_auto, dispatch.by, dispatch.rule) == (True, None, rule)
    assert CaseClock.objects.filter(case=case, stage=Stage.CLAIM, stopped_at=None).count() == 1


def test_a_new_category_reroutes_a_dispatched_case(
    people: People, world: World, client_for: Any
) -> None:
    _rule(
        world.sanitation,
        CategoryKind.EVENT,
        category=_category("event", "0102"),
        auto_dispatch=True,
    )
    _rule(world.parks, CategoryKind.EVENT, category=_category("event", "0103"), auto_dispatch=True)
    case = reported(people)
    services.case_file(case=case, by=people.clerk)
    body = (
        client_for(people.clerk)
        .post(
            f"/api/v1/cases/{case.number}/reclassify",
            {"category": "0103", "note": "实为渣土"},
            content_type="application/json",
        )
        .json()
    )
    assert (body["state"], body["assigned_org"], body["category"]) == (
        "dispatched",
        "ccjd-yl",
        "0103",
    )
    events = list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("type", "data"))[
        -3:
    ]
    assert events == [
        ("reclassified", {"category": ["0102", "0103"]}),
        ("recalled", {"from": "ccjd-hw"}),
        (
            "dispatched",
            {"to": "ccjd-yl", "suggested": "ccjd-yl", "auto": True, "rule": events[2][1]["rule"]},
        ),
    ]
    assert list(
        Dispatch.objects.filter(case=case).order_by("id").values_list("outcome", flat=True)
    ) == [
        DispatchOutcome.RECALLED,
        DispatchOutcome.PENDING,
    ]


def test_a_returned_case_is_not_routed_back_to_the_unit_that_returned_it(
    people: People, world: World
) -> None:
    _rule(world.sanitation, CategoryKind.EVENT, auto_dispatch=True)
    case = reported(people)
    services.case_file(case=case, by=people.clerk)
    services.case_return(case=case, by=people.handler, reason=ReturnReason.OTHER, note="非本所")
    services.case_reclassify(case=case, by=people.clerk, address="宾王路12号")
    case.refresh_from_db()
    assert (case.state, case.assigned_org, case.address) == (State.RETURNED, None, "宾王路12号")


def test_a_new_category_retimes_the_disposal_clock(people: People, world: World) -> None:
    from civicloop.cases.tests.conftest import local
    from civicloop.lib import clock

    with clock.frozen(local(2026, 11, 26, 9)):
        case = reported(people)
        services.case_file(case=case, by=people.clerk)
    with clock.frozen(local(2026, 11, 26, 10)):
        services.case_reclassify(case=case, by=people.clerk, category=_category("event", "0103"))
    case.refresh_from_db()
    assert case.due_at == local(2026, 11, 30, 9)  # 2 working days from Thursday 9:00


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "nothing_changed"),
        ({"category": "0102"}, "nothing_changed"),
        ({"lat": IN_OTHER_TOWN[0], "lon": IN_OTHER_TOWN[1]}, "outside_jurisdiction"),
        ({"lat": IN_GRID[0]}, "outside_city"),
        ({"category": "01"}, "category_invalid"),
    ],
)
def test_bad_reclassifications_change_nothing(
    payload: dict[str, Any], code: str, people: People, world: World, client_for: Any
) -> None:
    case = case_in(State.FILED, people, world)
    before = Case.objects.filter(pk=case.pk).values().get()
    response = client_for(people.clerk).post(
        f"/api/v1/cases/{case.number}/reclassify", payload, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (422, code)
    assert Case.objects.filter(pk=case.pk).values().get() == before


def test_moving_a_case_updates_its_place(people: People, world: World) -> None:
    from civicloop.conftest import IN_GRID2

    case = case_in(State.FILED, people, world)
    services.case_reclassify(case=case, by=people.clerk, lat=IN_GRID2[0], lon=IN_GRID2[1])
    case.refresh_from_db()
    assert (case.grid, case.village, case.town) == (world.grid2, world.village, world.town)
    event = CaseEvent.objects.filter(case=case).order_by("-seq")[0]
    assert event.data == {
        "location": [[IN_GRID[0], IN_GRID[1]], [IN_GRID2[0], IN_GRID2[1]]],
        "grid": [world.grid.code, world.grid2.code],
    }


def test_moving_a_dispatched_case_reroutes_it(people: People, world: World) -> None:
    """事件先属地: the rules of each grid's unit; the case moves to the other grid."""
    from civicloop.conftest import IN_GRID2

    _rule(world.sanitation, CategoryKind.EVENT, region=world.grid, auto_dispatch=True)
    _rule(world.parks, CategoryKind.EVENT, region=world.grid2, auto_dispatch=True)
    case = reported(people)
    services.case_file(case=case, by=people.clerk)
    case.refresh_from_db()
    assert (case.state, case.assigned_org) == (State.DISPATCHED, world.sanitation)
    services.case_reclassify(case=case, by=people.clerk, lat=IN_GRID2[0], lon=IN_GRID2[1])
    case.refresh_from_db()
    assert (case.state, case.assigned_org, case.grid) == (
        State.DISPATCHED,
        world.parks,
        world.grid2,
    )
    types = CaseEvent.objects.filter(case=case).order_by("seq").values_list("type", flat=True)
    assert list(types)[-3:] == ["reclassified", "recalled", "dispatched"]
    assert list(
        Dispatch.objects.filter(case=case).order_by("id").values_list("organisation", "outcome")
    ) == [
        (world.sanitation.pk, DispatchOutcome.RECALLED),
        (world.parks.pk, DispatchOutcome.PENDING),
    ]


def test_the_centre_recalls_a_dispatch(people: People, world: World, client_for: Any) -> None:
    case = case_in(State.DISPATCHED, people, world)
    url = f"/api/v1/cases/{case.number}/recall"
    no_reason = client_for(people.dispatcher).post(url, {}, content_type="application/json")
    assert (no_reason.status_code, no_reason.json()["code"]) == (422, "reason_required")
    body = (
        client_for(people.dispatcher)
        .post(url, {"note": "派错单位"}, content_type="application/json")
        .json()
    )
    assert (body["state"], body["assigned_org"]) == ("filed", None)
    assert Dispatch.objects.get(case=case).outcome == DispatchOutcome.RECALLED
    assert not CaseClock.objects.filter(case=case, stage=Stage.CLAIM, stopped_at=None).exists()
