from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from civicloop.regions.models import Kind, Level, Region
from civicloop.regions.tests.conftest import rectangle

pytestmark = pytest.mark.urls("civicloop.regions.tests.admin_urls")

CHANGELIST = "/admin/regions/region/"


@pytest.fixture
def admin(db: None, django_user_model: Any) -> Client:
    user = django_user_model.objects.create_superuser("13900000000", "pw-2026", name="管理员")
    client = Client()
    client.force_login(user)
    return client


def names(response: Any) -> list[str]:
    return [region.name for region in response.context["cl"].result_list]


def test_the_changelist_lists_regions_in_tree_order(admin, west_grid, east_grid):
    response = admin.get(CHANGELIST)
    assert response.status_code == 200
    assert names(response) == [
        "义乌市",
        "稠城街道",
        "孝子祠社区",
        "孝子祠社区第一网格",
        "孝子祠社区第二网格",
    ]


def test_it_filters_by_level_and_town(admin, west_grid, east_grid):
    assert names(admin.get(CHANGELIST, {"level": Level.GRID})) == [
        "孝子祠社区第一网格",
        "孝子祠社区第二网格",
    ]
    assert names(admin.get(CHANGELIST, {"town": "330782001000"})) == [
        "稠城街道",
        "孝子祠社区",
        "孝子祠社区第一网格",
        "孝子祠社区第二网格",
    ]


def test_it_searches_by_code_prefix_and_name(admin, west_grid, east_grid):
    assert names(admin.get(CHANGELIST, {"q": "330782001001"})) == [
        "孝子祠社区",
        "孝子祠社区第一网格",
        "孝子祠社区第二网格",
    ]
    assert names(admin.get(CHANGELIST, {"q": "第二"})) == ["孝子祠社区第二网格"]


def add_form(parent: Region, **overrides: Any) -> dict[str, Any]:
    data = {
        "code": "330782001002",
        "name": "绣湖社区",
        "level": Level.VILLAGE,
        "kind": Kind.COMMUNITY,
        "parent": parent.pk,
        "boundary": json.dumps(rectangle(120.02, 29.20, 120.04, 29.21)),
        "centre_lat": "",
        "centre_lon": "",
    }
    return data | overrides


def test_adding_goes_through_the_service(admin, town):
    response = admin.post(f"{CHANGELIST}add/", add_form(town))
    assert response.status_code == 302
    village = Region.objects.get(code="330782001002")
    assert village.path == "/330782000000/330782001000/330782001002/"
    assert village.centre_lat == pytest.approx(29.205, abs=1e-12)
    assert village.centre_lon == pytest.approx(120.03, abs=1e-12)


def test_a_bad_add_shows_the_error_on_its_field_and_writes_nothing(admin, town):
    response = admin.post(f"{CHANGELIST}add/", add_form(town, code="330782002001"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "code": ["代码应以上级“稠城街道”的代码前缀 330782001 开头：330782002001"]
    }
    assert not Region.objects.filter(level=Level.VILLAGE).exists()


def test_code_level_and_parent_are_fixed_once_created(admin, village):
    response = admin.get(f"{CHANGELIST}{village.pk}/change/")
    form = response.context["adminform"].form
    assert sorted(form.fields) == ["boundary", "centre_lat", "centre_lon", "kind", "name"]


def test_changing_the_boundary_recomputes_the_centre(admin, village):
    data = {
        "name": "孝子祠社区",
        "kind": Kind.COMMUNITY,
        "boundary": json.dumps(rectangle(120.00, 29.20, 120.01, 29.21)),
        "centre_lat": village.centre_lat,
        "centre_lon": village.centre_lon,
    }
    response = admin.post(f"{CHANGELIST}{village.pk}/change/", data)
    assert response.status_code == 302
    village.refresh_from_db()
    assert village.boundary == rectangle(120.00, 29.20, 120.01, 29.21)
    assert village.centre_lon == pytest.approx(120.005, abs=1e-12)


def test_a_bad_change_writes_nothing(admin, village):
    before = Region.objects.values().get(pk=village.pk)
    data = {
        "name": "新名称",
        "kind": Kind.COMMUNITY,
        "boundary": json.dumps({"type": "Point", "coordinates": [120.0, 29.2]}),
        "centre_lat": "",
        "centre_lon": "",
    }
    response = admin.post(f"{CHANGELIST}{village.pk}/change/", data)
    assert response.context["adminform"].form.errors == {
        "boundary": ["边界类型必须是 Polygon 或 MultiPolygon，不能是 Point"]
    }
    assert Region.objects.values().get(pk=village.pk) == before
