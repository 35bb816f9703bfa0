"""Changes the centre and the units make beside the main loop: 修改分类或位置 (which re-routes),
会办 (assisting units) and 补充照片 (evidence photos)."""

from __future__ import annotations

from civicloop.cases.models import Case, CaseEvent, Category, EventType, Photo, State
from civicloop.conftest import IN_GRID2, OUTSIDE, jpeg, photo_file
from civicloop.web.tests.test_actions import act

HX = {"HX-Request": "true"}


def _facts(case: Case) -> tuple[object, ...]:
    case.refresh_from_db()
    return (case.version, case.category_id, case.grid_id, case.lat, case.lon, case.address)


def test_the_dispatcher_changes_category_and_location(client_for, people, world, make_case):
    case = make_case(State.FILED)
    client = client_for(people.dispatcher)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert "修改分类或位置" in page and 'id="map-reclassify"' in page
    other = Category.objects.get(parent__code="01", code="03")
    lat, lon = IN_GRID2
    response = act(
        client,
        case,
        "reclassify",
        {
            "category": other.pk,
            "urgency": case.urgency,
            "lat": lat,
            "lon": lon,
            "address": "孝子祠社区南门",
            "note": "上报时选错分类",
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.category_id, case.grid_id, case.address) == (
        other.pk,
        world.grid2.pk,
        "孝子祠社区南门",
    )
    event = CaseEvent.objects.filter(case=case).latest("seq")
    assert event.type == EventType.RECLASSIFIED
    assert event.data["category"] == ["0102", "0103"]
    assert event.note == "上报时选错分类"


def test_reclassifying_with_nothing_changed_or_outside_the_city_changes_nothing(
    client_for, people, make_case
):
    case = make_case(State.FILED)
    client = client_for(people.dispatcher)
    before = _facts(case)
    same = {"urgency": case.urgency, "lat": case.lat, "lon": case.lon, "address": case.address}
    response = act(client, case, "reclassify", same, headers=HX)
    assert response.status_code == 422
    assert "没有需要修改的内容" in response.content.decode()
    lat, lon = OUTSIDE
    outside = act(client, case, "reclassify", {**same, "lat": lat, "lon": lon}, headers=HX)
    assert outside.status_code == 422
    assert _facts(case) == before


def test_a_unit_handler_cannot_reclassify(client_for, people, make_case):
    case = make_case(State.DISPATCHED)
    before = _facts(case)
    response = act(
        client_for(people.handler),
        case,
        "reclassify",
        {"urgency": "urgent", "lat": case.lat, "lon": case.lon},
    )
    assert response.status_code == 404
    assert _facts(case) == before


def test_the_dispatcher_adds_and_ends_an_assisting_unit(client_for, people, world, make_case):
    case = make_case(State.DISPATCHED)
    client = client_for(people.dispatcher)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert '<option value="ccjd-yl">稠城街道园林所</option>' in page
    assert '<option value="ccjd-hw">' not in page  # the lead unit cannot assist itself
    assert "结束会办" not in page
    act(client, case, "add_assist", {"to": "ccjd-yl", "note": "协助清理绿化带"})
    assert list(case.assists.values_list("organisation__code", "ended_at")) == [("ccjd-yl", None)]
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert "结束会办" in page
    again = act(client, case, "add_assist", {"to": "ccjd-yl"}, headers=HX)
    assert again.status_code == 422
    assert "该单位不能作为此案件的会办单位" in again.content.decode()
    stale = act(client, case, "end_assist", {"organisation": "ccjd-yl"}, headers=HX)
    assert stale.status_code == 409  # the page was older than the case
    assert case.assists.get().ended_at is None
    case.refresh_from_db()
    act(client, case, "end_assist", {"organisation": "ccjd-yl"})
    assist = case.assists.get()
    assert assist.ended_at is not None
    types = list(CaseEvent.objects.filter(case=case).values_list("type", flat=True))
    assert types[-2:] == [EventType.ASSIST_ADDED, EventType.ASSIST_ENDED]


def test_the_unit_adds_evidence_photos_and_the_public_cannot(client_for, people, make_case):
    case = make_case(State.ACCEPTED)
    handler = client_for(people.handler)
    assert "补充照片" in handler.get(f"/cases/{case.number}/").content.decode()
    empty = act(handler, case, "add_evidence", {"note": "现场"}, headers=HX)
    assert empty.status_code == 422 and "请至少上传1张照片" in empty.content.decode()
    response = act(
        handler,
        case,
        "add_evidence",
        {"note": "整改前现场", "photos": [photo_file("site.jpg", jpeg((9, 9, 200)))]},
    )
    assert response.status_code == 302
    event = CaseEvent.objects.filter(case=case).latest("seq")
    assert (event.type, event.is_public, event.note) == (
        EventType.PHOTOS_ADDED,
        False,
        "整改前现场",
    )
    assert Photo.objects.filter(case=case, event=event).count() == 1

    resident = client_for(people.resident)
    assert "补充照片" not in resident.get(f"/cases/{case.number}/").content.decode()
    photos = Photo.objects.count()
    denied = act(resident, case, "add_evidence", {"photos": [photo_file()]})
    assert denied.status_code == 404
    assert Photo.objects.count() == photos
