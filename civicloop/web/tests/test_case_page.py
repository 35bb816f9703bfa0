"""The case page: who sees it, what they see, and the photos."""

from __future__ import annotations

import pytest
from django.utils.timezone import localtime

from civicloop.cases import services
from civicloop.cases.models import State
from civicloop.cases.tests.journeys import photo, reported


def test_the_reporter_sees_the_public_timeline(client_for, people, make_case):
    case = make_case(State.ACCEPTED)
    services.case_add_note(case=case, by=people.clerk, text="内部：联系物业", is_public=False)
    page = client_for(people.resident).get(f"/cases/{case.number}/").content.decode()
    assert "已签收·处置中" in page
    assert "签收" in page and "派遣至" in page and "稠城街道环卫所" in page
    assert "内部：联系物业" not in page
    # Staff names are for staff.
    assert "赵磊" not in page


def test_staff_see_internal_notes_and_names(client_for, people, make_case):
    case = make_case(State.ACCEPTED)
    services.case_add_note(case=case, by=people.clerk, text="内部：联系物业", is_public=False)
    page = client_for(people.dispatcher).get(f"/cases/{case.number}/").content.decode()
    assert "内部：联系物业" in page
    assert "赵磊" in page


@pytest.mark.parametrize(
    "who", ["volunteer", "other_clerk", "other_handler", "parks_handler", "stranger"]
)
def test_a_case_outside_ones_scope_is_not_found(client_for, people, make_case, who):
    case = make_case(State.DISPATCHED)
    client = client_for(getattr(people, who))
    assert client.get(f"/cases/{case.number}/").status_code == 404
    assert client.get(f"/cases/{case.number}/panel/").status_code == 404
    photo_id = case.photos.get().pk
    assert client.get(f"/cases/{case.number}/photos/{photo_id}/").status_code == 404


def test_an_unknown_case_is_not_found(client_for, people, db):
    assert client_for(people.clerk).get("/cases/YW000/").status_code == 404


def test_before_and_after_photos_are_side_by_side(client_for, people, make_case):
    case = make_case(State.SUBMITTED)
    page = client_for(people.resident).get(f"/cases/{case.number}/").content.decode()
    before, after = case.photos.order_by("id")
    compare = page[
        page.index('class="compare"') : page.index("</section>", page.index('class="compare"'))
    ]
    assert f"/photos/{before.pk}/" in compare.split("处置后")[0]
    assert f"/photos/{after.pk}/" in compare.split("处置后")[1]


def test_a_photo_is_served_without_metadata_to_those_who_may_see_it(client_for, people, make_case):
    case = make_case(State.REPORTED)
    photo_id = case.photos.get().pk
    response = client_for(people.resident).get(f"/cases/{case.number}/photos/{photo_id}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_photos_of_internal_steps_are_staff_only(client_for, people, make_case):
    case = make_case(State.VERIFYING)
    services.case_confirm_on_site(case=case, by=people.grid_worker, exists=True, photos=[photo(5)])
    evidence = case.photos.order_by("-id").first()
    url = f"/cases/{case.number}/photos/{evidence.pk}/"
    assert client_for(people.resident).get(url).status_code == 404
    assert client_for(people.clerk).get(url).status_code == 200


def test_an_anonymous_reporter_is_hidden_from_the_unit(client_for, people, world, categories):
    case = reported(people, is_anonymous=True)
    services.case_file(case=case, by=people.clerk)
    services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
    unit_page = client_for(people.handler).get(f"/cases/{case.number}/").content.decode()
    centre_page = client_for(people.clerk).get(f"/cases/{case.number}/").content.decode()
    assert "王芳" not in unit_page and "匿名" in unit_page
    assert "王芳" in centre_page


def test_the_deadline_counts_down(client_for, people, make_case):
    case = make_case(State.ACCEPTED)
    page = client_for(people.handler).get(f"/cases/{case.number}/").content.decode()
    assert "处置期限" in page and "data-countdown" in page and "剩余" in page


def test_the_panel_is_a_fragment(client_for, people, make_case):
    case = make_case(State.FILED)
    body = client_for(people.dispatcher).get(f"/cases/{case.number}/panel/").content.decode()
    assert body.lstrip().startswith('<section id="case-panel"')
    assert "<html" not in body


def test_staff_see_the_closed_cycles_of_a_reopened_case(client_for, people, make_case):
    case = make_case(State.CLOSED)
    services.case_reopen(case=case, by=people.resident, note="垃圾又堆回来了")
    cycle = case.cycles.get()
    staff = client_for(people.clerk).get(f"/cases/{case.number}/").content.decode()
    section = staff[
        staff.index('class="cycles"') : staff.index("</section>", staff.index('class="cycles"'))
    ]
    assert "往次办理" in section and "第1轮" in section
    assert "稠城街道环卫所" in section and "返工0次" in section
    assert f"结案时间 {localtime(cycle.closed_at):%Y-%m-%d %H:%M}" in section
    # The reporter sees the public timeline, not the evaluation record.
    mine = client_for(people.resident).get(f"/cases/{case.number}/").content.decode()
    assert 'class="cycles"' not in mine
