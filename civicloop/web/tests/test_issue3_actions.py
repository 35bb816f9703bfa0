"""Actions that came with deadlines and supervision: rating, supervision, recall, routing,
following ("我也遇到") and the duplicate suggestions on the report form."""

from __future__ import annotations

from civicloop.cases import services
from civicloop.cases.models import (
    Case,
    Category,
    RoutingRule,
    Satisfaction,
    State,
    SupervisionKind,
)
from civicloop.cases.tests.journeys import reported
from civicloop.conftest import IN_GRID
from civicloop.web.tests.test_actions import act, state_of

HX = {"HX-Request": "true"}


def test_the_reporter_rates_a_closed_case(client_for, people, make_case):
    case = make_case(State.CLOSED)
    client = client_for(people.resident)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert "您对处理结果是否满意" in page and "基本满意" in page
    missing = act(client, case, "rate", {}, headers=HX)
    assert missing.status_code == 422 and "请选择满意程度" in missing.content.decode()
    act(client, case, "rate", {"satisfaction": "satisfied", "note": "处理及时"})
    case.refresh_from_db()
    assert case.satisfaction == Satisfaction.SATISFIED
    assert "您对处理结果是否满意" not in client.get(f"/cases/{case.number}/").content.decode()
    again = act(client, case, "rate", {"satisfaction": "dissatisfied"}, headers=HX)
    assert again.status_code == 422 and "本次办理结果已评价" in again.content.decode()


def test_the_centre_supervises_and_lifts(client_for, people, make_case):
    case = make_case(State.ACCEPTED)
    lead = client_for(people.shift_lead)
    missing = act(lead, case, "supervise", {"kind": "supervise"}, headers=HX)
    assert "请填写督办要求" in missing.content.decode()
    act(lead, case, "supervise", {"kind": "supervise", "note": "今日办结"})
    case.refresh_from_db()
    assert case.supervision == SupervisionKind.SUPERVISE
    page = lead.get(f"/cases/{case.number}/").content.decode()
    assert 'class="badge mark-supervision">督办<' in page and "今日办结" in page
    act(lead, case, "lift_supervision", {"note": "已办结"})
    case.refresh_from_db()
    assert case.supervision == ""


def test_a_clerk_may_only_urge(client_for, people, make_case):
    case = make_case(State.ACCEPTED)
    response = act(
        client_for(people.clerk), case, "supervise", {"kind": "listed", "note": "x"}, headers=HX
    )
    assert response.status_code == 422
    assert "您的角色无权执行“挂牌督办”" in response.content.decode()


def test_the_centre_recalls_a_dispatch_with_a_reason(client_for, people, make_case):
    case = make_case(State.DISPATCHED)
    dispatcher = client_for(people.dispatcher)
    assert (
        "请填写撤回派遣的理由" in act(dispatcher, case, "recall", {}, headers=HX).content.decode()
    )
    act(dispatcher, case, "recall", {"note": "派错单位"})
    assert state_of(case) == State.FILED


def test_dispatch_suggests_the_unit_of_the_routing_rule(client_for, people, world, make_case):
    case = make_case(State.FILED)
    RoutingRule.objects.create(kind="event", organisation=world.parks, region=world.town)
    page = client_for(people.dispatcher).get(f"/cases/{case.number}/").content.decode()
    assert '<option value="ccjd-yl" selected>稠城街道园林所（建议）</option>' in page
    assert "按分拨规则建议（事件：先属地、后属主）" in page


def test_similar_open_cases_are_suggested_before_reporting(client_for, people, make_case):
    existing = make_case(State.FILED)
    category = Category.objects.get(kind="event", full_code="0102")
    url = f"/report/similar/?category={category.pk}&lat={IN_GRID[0]}&lon={IN_GRID[1]}"
    body = client_for(people.volunteer).get(url).content.decode()
    assert "附近已有 1 个相同的问题" in body
    assert f"/cases/{existing.number}/follow/" in body
    assert "王芳" not in body and existing.description not in body
    other = Category.objects.get(kind="event", full_code="0103")
    elsewhere = f"/report/similar/?category={other.pk}&lat={IN_GRID[0]}&lon={IN_GRID[1]}"
    assert client_for(people.volunteer).get(elsewhere).content.decode().strip() == ""
    assert client_for(people.volunteer).get("/report/similar/?lat=x").status_code == 200


def test_me_too_follows_the_case_and_shows_it(client_for, people, make_case):
    case = make_case(State.FILED)
    client = client_for(people.volunteer)
    assert client.get(f"/cases/{case.number}/").status_code == 404
    response = client.post(f"/cases/{case.number}/follow/", headers=HX)
    assert response["HX-Redirect"] == f"/cases/{case.number}/"
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert "已关注该问题" in page and "取消关注" in page
    # Leaving it takes the case out of sight, back to one's own reports.
    case.refresh_from_db()
    left = act(client, case, "unfollow", headers=HX)
    assert left["HX-Redirect"] == "/mine/"
    assert client.get(f"/cases/{case.number}/").status_code == 404


def test_closed_or_unknown_cases_cannot_be_followed(client_for, people, make_case):
    closed = make_case(State.CLOSED)
    client = client_for(people.volunteer)
    assert client.post(f"/cases/{closed.number}/follow/").status_code == 404
    assert client.post("/cases/YW000/follow/").status_code == 404


def test_following_ones_own_report_is_explained(client_for, people, categories, world):
    case = reported(people)
    response = client_for(people.resident).post(f"/cases/{case.number}/follow/", follow=True)
    assert "这是您上报的案件，无需关注" in response.content.decode()
    assert not Case.objects.get(pk=case.pk).followers.exists()


def test_the_supervision_service_is_the_one_used(people, make_case):
    # Guard: the web form passes the kind through the real service (no web-only rule).
    case = make_case(State.ACCEPTED)
    services.case_supervise(case=case, by=people.clerk, kind=SupervisionKind.URGE, note="请尽快")
    case.refresh_from_db()
    assert case.supervision == SupervisionKind.URGE
