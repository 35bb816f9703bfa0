"""Reporting a problem from the web form, and following one's reports."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from civicloop.cases.models import Case, Category, PhotoKind, Source, State
from civicloop.conftest import IN_GRID, IN_OTHER_TOWN, OUTSIDE, jpeg, photo_file


@pytest.fixture
def garbage(categories) -> Category:
    return Category.objects.get(kind="event", full_code="0102")


def report_data(chosen: Category, **changes) -> dict:
    data = {
        "category": chosen.pk,
        "description": "孝子祠社区门口垃圾堆放",
        "lat": IN_GRID[0],
        "lon": IN_GRID[1],
        "address": "孝子祠社区北门",
        "urgency": "normal",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_form_offers_categories_with_pinyin_for_search(client_for, people, garbage):
    page = client_for(people.resident).get("/report/").content.decode()
    assert 'data-search="暴露垃圾 blljs 垃圾 市容环境"' in page
    assert "公园护栏" in page
    assert 'name="photos"' in page and "multiple" in page


def test_a_resident_reports_with_photos(client_for, people, garbage):
    data = report_data(garbage, photos=[photo_file("a.jpg"), photo_file("b.jpg", jpeg((1, 2, 3)))])
    response = client_for(people.resident).post("/report/", data)
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.number}/"
    assert case.state == State.REPORTED
    assert case.source == Source.RESIDENT
    assert case.reporter == people.resident
    assert case.grid.name == "孝子祠社区第一网格"
    assert case.address == "孝子祠社区北门"
    assert list(case.photos.values_list("kind", flat=True)) == [PhotoKind.BEFORE] * 2


def test_an_htmx_report_redirects_on_the_client(client_for, people, garbage):
    response = client_for(people.resident).post(
        "/report/", report_data(garbage, is_anonymous="on"), headers={"HX-Request": "true"}
    )
    case = Case.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/cases/{case.number}/"
    assert case.is_anonymous is True


def test_a_grid_worker_reports_as_grid_worker(client_for, people, garbage):
    client_for(people.grid_worker).post("/report/", report_data(garbage))
    assert Case.objects.get().source == Source.GRID_WORKER


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"description": ""}, "请填写问题描述"),
        ({"description": "   "}, "请填写问题描述"),
        ({"description": "长" * 2001}, "问题描述不能超过2000字"),
        ({"category": None}, "请选择问题分类"),
        ({"category": 99999}, "请选择有效的问题分类"),
        ({"lat": None, "lon": None}, "请在地图上点选问题位置"),
        ({"lat": "abc"}, "请在地图上点选问题位置"),
        ({"lat": 95}, "坐标无效，请重新选择位置"),
        ({"urgency": "panic"}, "请选择紧急程度"),
        ({"lat": OUTSIDE[0], "lon": OUTSIDE[1]}, "该位置不在本市网格范围内，请重新选择位置"),
    ],
)
def test_every_error_is_said_in_chinese(client_for, people, garbage, changes, message):
    response = client_for(people.resident).post("/report/", report_data(garbage, **changes))
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Case.objects.exists()


def test_a_major_category_is_not_accepted(client_for, people, garbage):
    response = client_for(people.resident).post(
        "/report/", report_data(garbage, category=garbage.parent_id)
    )
    assert response.status_code == 422
    assert "请选择有效的问题分类" in response.content.decode()


def test_a_file_that_is_not_a_photo_is_refused_by_content(client_for, people, garbage):
    fake = SimpleUploadedFile("photo.jpg", b"%PDF-1.4 not an image", "image/jpeg")
    response = client_for(people.resident).post("/report/", report_data(garbage, photos=[fake]))
    assert response.status_code == 422
    assert "“photo.jpg”：不支持的文件类型" in response.content.decode()
    assert not Case.objects.exists()


def test_too_many_or_too_large_photos_are_refused(client_for, people, garbage, settings):
    settings.PHOTO_MAX_COUNT = 2
    client = client_for(people.resident)
    three = [photo_file(f"{n}.jpg") for n in range(3)]
    response = client.post("/report/", report_data(garbage, photos=three))
    assert "每次最多上传2张照片" in response.content.decode()
    settings.PHOTO_MAX_BYTES = 100
    response = client.post("/report/", report_data(garbage, photos=[photo_file("big.jpg")]))
    assert "照片“big.jpg”超过0MB，请压缩后再上传" in response.content.decode()
    assert not Case.objects.exists()


def test_an_htmx_error_returns_only_the_form(client_for, people, garbage):
    response = client_for(people.resident).post(
        "/report/", report_data(garbage, description=""), headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert body.lstrip().startswith('<form id="report-form"')
    assert "请填写问题描述" in body
    # The entered values survive the round trip.
    assert "孝子祠社区北门" in body


@pytest.mark.parametrize(
    ("point", "text"),
    [
        (IN_GRID, "稠城街道 · 孝子祠社区 · 孝子祠社区第一网格"),
        (IN_OTHER_TOWN, "北苑街道 · 银苑社区 · 银苑社区第一网格"),
        (OUTSIDE, "该位置不在本市网格范围内"),
    ],
)
def test_the_place_of_a_point_is_shown(client_for, people, world, point, text):
    response = client_for(people.resident).get(f"/report/place/?lat={point[0]}&lon={point[1]}")
    assert text in response.content.decode()


def test_a_bad_point_is_explained(client_for, people, world):
    response = client_for(people.resident).get("/report/place/?lat=abc&lon=1")
    assert "坐标无效" in response.content.decode()


def test_my_reports_list_only_mine_with_their_progress(client_for, people, make_case):
    mine = make_case(State.ACCEPTED)
    page = client_for(people.resident).get("/mine/").content.decode()
    assert mine.number in page
    assert page.count('class="done"') == 3  # 上报, 受理, 处置
    assert mine.number not in client_for(people.volunteer).get("/mine/").content.decode()
