"""The closed loop in a real browser: a resident on a phone, the centre, the department."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from civicloop.cases.models import Case, PhotoKind, State
from civicloop.cases.tests.journeys import case_in
from civicloop.conftest import IN_GRID
from civicloop.lib import clock
from civicloop.web.tests.browser.conftest import Login, Shots, camera_jpeg, small_jpeg, upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_case(page: Page, desk: str, number: str) -> None:
    """From a desk, open a case in the panel beside the queue."""
    page.goto(desk)
    page.wait_for_function("window.htmx !== undefined")
    page.locator("[data-panel-link]", has_text=number).click()
    expect(page.locator("#case-panel .case-no")).to_contain_text(number)


def take(page: Page, action: str, fill: dict[str, str] | None = None) -> None:
    """Open an action of the panel, fill its form and confirm it."""
    panel = page.locator("#case-panel")
    details = panel.locator("details.action", has=page.locator(f"summary:text-is('{action}')"))
    if not details.evaluate("el => el.open"):
        details.locator("summary").click()
    for label, value in (fill or {}).items():
        field = details.get_by_label(label)
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)
    details.get_by_role("button", name=f"确认{action}").click()


def report_on_phone(page: Page, shot: Shots) -> str:
    page.goto("/report/")
    page.locator("input[name=photos]").set_input_files(
        [
            upload("IMG_0001.jpg", camera_jpeg(seed=1)),
            upload("IMG_0002.jpg", camera_jpeg(seed=2)),
        ]
    )
    expect(page.locator("[data-thumbs] li")).to_have_count(2)
    page.get_by_role("button", name="使用当前位置").click()
    expect(page.locator("#report-map-place")).to_contain_text("孝子祠社区第一网格")
    # Submitting with no category and no description says what is missing, keeping the photos.
    page.get_by_role("button", name="提交上报").click()
    expect(page.locator("#id_category_error")).to_have_text("请选择问题分类")
    expect(page.locator("#id_description_error")).to_have_text("请填写问题描述")
    expect(page.locator("[data-thumbs] li")).to_have_count(2)
    shot(page, "report-errors-375")
    page.get_by_label("搜索名称、关键词或拼音首字母").fill("blljs")
    expect(page.locator(".category-option:visible")).to_have_count(1)
    page.get_by_label("暴露垃圾").check()
    page.get_by_label("问题描述").fill("孝子祠社区北门垃圾堆放三天了，无人清理")
    page.get_by_label("详细地址（选填）").fill("孝子祠社区北门")
    shot(page, "report-375")
    page.get_by_role("button", name="提交上报").click()
    expect(page.locator(".message-success")).to_contain_text("上报成功")
    shot(page, "reported-375")
    return re.search(r"/cases/(YW\d+)/", page.url).group(1)  # type: ignore[union-attr]


def test_a_report_goes_round_the_loop(login: Login, people, world, categories, shot: Shots):
    geo = {"geolocation": {"latitude": IN_GRID[0], "longitude": IN_GRID[1]}}
    resident = login(people.resident, phone=True, permissions=["geolocation"], **geo)
    number = report_on_phone(resident, shot)
    case = Case.objects.get(number=number)
    photos = list(case.photos.filter(kind=PhotoKind.BEFORE))
    # Downscaled in the browser to 1600 px, the capture time (EXIF) kept as evidence.
    assert [(p.width, p.height) for p in photos] == [(1600, 1200), (1600, 1200)]
    assert all(p.taken_at is not None for p in photos)

    clerk = login(people.clerk)
    open_case(clerk, "/centre/", number)
    shot(clerk, "centre-desk")
    take(clerk, "立案", {"说明（选填）": "属实，立案"})
    expect(clerk.locator("#case-panel .badges")).to_contain_text("已立案")
    expect(clerk.locator("[data-panel-link]", has_text=number)).to_have_count(0)

    dispatcher = login(people.dispatcher)
    open_case(dispatcher, "/centre/?queue=dispatch", number)
    take(dispatcher, "派遣", {"承办单位": "稠城街道环卫所"})
    expect(dispatcher.locator("#case-panel .badges")).to_contain_text("已派遣·待签收")
    shot(dispatcher, "dispatched")

    handler = login(people.handler)
    open_case(handler, "/unit/", number)
    take(handler, "签收")
    expect(handler.locator("#case-panel .badges")).to_contain_text("已签收·处置中")
    details = handler.locator("details.action", has=handler.locator("summary:text-is('处置反馈')"))
    details.locator("summary").click()
    details.locator("input[type=file]").set_input_files([upload("after.jpg", small_jpeg())])
    expect(details.locator("[data-thumbs] li")).to_have_count(1)
    details.get_by_label("处置情况（选填）").fill("已清运完毕")
    shot(handler, "unit-desk")
    details.get_by_role("button", name="确认处置反馈").click()
    expect(handler.locator("#case-panel .badges")).to_contain_text("已处置·待核查")

    verifier = login(people.verifier)
    open_case(verifier, "/centre/?queue=check", number)
    take(verifier, "核查通过", {"说明（选填）": "现场已清理干净"})
    expect(verifier.locator("#case-panel .timeline")).to_contain_text("核查通过")

    lead = login(people.shift_lead)
    open_case(lead, "/centre/?queue=check", number)
    take(lead, "结案")
    expect(lead.locator("#case-panel .badges")).to_contain_text("已结案")

    resident.goto("/mine/")
    expect(resident.locator(".case-card", has_text=number)).to_contain_text("已结案")
    resident.locator(".case-card", has_text=number).click()
    expect(resident.locator(".compare figure")).to_have_count(2)
    expect(resident.locator(".compare img")).to_have_count(3)
    shot(resident, "case-closed-375")
    rate = resident.locator("details.action", has=resident.locator("summary:text-is('评价')"))
    rate.locator("summary").click()
    rate.get_by_text("满意", exact=True).click()
    rate.get_by_label("说明（选填）").fill("清理得很干净，谢谢")
    rate.get_by_role("button", name="确认评价").click()
    expect(resident.locator(".facts")).to_contain_text("满意")
    shot(resident, "rated-375")
    case.refresh_from_db()
    assert (case.state, case.satisfaction) == (State.CLOSED, "satisfied")


def test_a_department_returns_a_case_and_the_centre_redispatches(
    login: Login, people, world, categories, shot: Shots
):
    case = case_in(State.DISPATCHED, people, world)
    handler = login(people.handler, phone=True)
    handler.goto(f"/cases/{case.number}/")
    take(handler, "退回", {"退回原因": "非本单位职责"})
    expect(handler.locator("#id_return-note_error")).to_have_text("请填写退回理由")
    shot(handler, "return-needs-reason-375")
    take(handler, "退回", {"说明": "护栏属园林所管理"})
    expect(handler.locator("#case-panel .badges")).to_contain_text("已退回")

    dispatcher = login(people.dispatcher)
    open_case(dispatcher, "/centre/?queue=dispatch", case.number)
    expect(dispatcher.locator("#case-panel .timeline")).to_contain_text("护栏属园林所管理")
    take(dispatcher, "派遣", {"承办单位": "稠城街道园林所"})
    expect(dispatcher.locator("#case-panel .badges")).to_contain_text("已派遣·待签收")
    shot(dispatcher, "redispatched")

    parks = login(people.parks_handler)
    parks.goto("/unit/")
    expect(parks.locator("[data-panel-link]", has_text=case.number)).to_be_visible()
    case.refresh_from_db()
    assert (case.assigned_org, case.return_count) == (world.parks, 1)


def test_a_failed_check_sends_the_case_back_for_rework(
    login: Login, people, world, categories, shot: Shots
):
    case = case_in(State.SUBMITTED, people, world)
    verifier = login(people.verifier)
    open_case(verifier, "/centre/?queue=check", case.number)
    take(verifier, "核查不通过", {"说明": "北门仍有垃圾残留"})
    expect(verifier.locator("#case-panel .badges")).to_contain_text("返工")
    shot(verifier, "check-failed")

    handler = login(people.handler)
    handler.goto("/unit/?queue=rework")
    handler.locator("[data-panel-link]", has_text=case.number).click()
    expect(handler.locator("#case-panel .timeline")).to_contain_text("北门仍有垃圾残留")
    details = handler.locator("details.action", has=handler.locator("summary:text-is('处置反馈')"))
    details.locator("summary").click()
    details.get_by_role("button", name="确认处置反馈").click()
    expect(details.locator("#id_submit-photos_error")).to_have_text("请至少上传1张处置后照片")
    details.locator("input[type=file]").set_input_files([upload("again.jpg", small_jpeg(seed=3))])
    expect(details.locator("[data-thumbs] li")).to_have_count(1)
    details.get_by_role("button", name="确认处置反馈").click()
    expect(handler.locator("#case-panel .badges")).to_contain_text("已处置·待核查")
    shot(handler, "resubmitted")
    case.refresh_from_db()
    assert (case.state, case.rework_count) == (State.SUBMITTED, 1)


def test_a_department_cannot_see_another_departments_case(
    login: Login, people, world, categories, shot: Shots
):
    case = case_in(State.DISPATCHED, people, world)
    for stranger in (people.parks_handler, people.other_handler):
        page = login(stranger)
        response = page.goto(f"/cases/{case.number}/")
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("页面不存在或您无权查看")
        page.goto("/unit/?queue=claim")
        expect(page.locator("[data-panel-link]", has_text=case.number)).to_have_count(0)
    shot(page, "not-found")


def test_the_dashboard_charts_drill_down_to_cases(
    login: Login, people, world, categories, shot: Shots
):
    closed = case_in(State.CLOSED, people, world)
    working = case_in(State.ACCEPTED, people, world)
    due = clock.now() - timedelta(hours=1)
    Case.objects.filter(pk__in=[closed.pk, working.pk]).update(due_at=due)
    lead = login(people.shift_lead)
    lead.goto(f"/dashboard/?date={clock.local_date(due)}")
    chart = lead.locator('[data-chart="chart-data-area"]')
    expect(chart.locator("svg")).to_be_visible()
    shot(lead, "dashboard")
    # The first bar is 结案率 of 孝子祠社区: 1 of 2 cases closed.
    chart.locator('svg path[fill="#1f4e9c"]').first.click()
    expect(lead.get_by_role("heading", level=1)).to_contain_text("结案率 · 分子")
    expect(lead.locator("[data-panel-link]", has_text=closed.number)).to_be_visible()
    expect(lead.locator("[data-panel-link]", has_text=working.number)).to_have_count(0)


def test_the_centre_reclassifies_with_the_map_in_the_action_form(
    login: Login, people, world, categories, shot: Shots
):
    case = case_in(State.FILED, people, world)
    dispatcher = login(people.dispatcher)
    open_case(dispatcher, "/centre/?queue=dispatch", case.number)
    panel = dispatcher.locator("#case-panel")
    details = panel.locator(
        "details.action", has=dispatcher.locator("summary:text-is('修改分类或位置')")
    )
    details.locator("summary").click()
    picker = details.locator("[data-map]")
    expect(picker).to_be_visible()
    # The map was built while its <details> was closed; opening it gives it its size.
    dispatcher.wait_for_function(
        "id => { const m = document.getElementById(id)._map; return m && m.getSize().x > 0 }",
        arg="map-reclassify",
    )
    assert float(details.locator("input[name='reclassify-lat']").input_value()) == case.lat
    details.get_by_label("紧急程度").select_option(label="紧急")
    details.get_by_label("修改原因（选填）").fill("涉及交通安全")
    shot(dispatcher, "reclassify")
    details.get_by_role("button", name="确认修改分类或位置").click()
    expect(panel.locator(".timeline")).to_contain_text("涉及交通安全")
    case.refresh_from_db()
    assert (case.urgency, case.lat, case.lon) == ("urgent", IN_GRID[0], IN_GRID[1])
