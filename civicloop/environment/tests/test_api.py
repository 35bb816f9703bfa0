"""The data-sharing API: bearer tokens only, a grant per department, scope by region."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from civicloop.accounts.services import token_create
from civicloop.conftest import World
from civicloop.environment import services
from civicloop.environment.models import AqiPeriod, StationAqi
from civicloop.environment.sweep import sweep
from civicloop.environment.tests.conftest import NOW, Env, feed_normal_hours, last_hours
from civicloop.lib import clock

pytestmark = pytest.mark.django_db
BASE = "/api/v1/env"


@pytest.fixture(autouse=True)
def _now() -> object:
    with clock.frozen(NOW):
        yield


def bearer(user) -> dict[str, str]:
    _token, key = token_create(user=user, name="数据共享测试")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def granted(env: Env, world: World) -> dict[str, str]:
    services.data_share_grant(
        organisation=env.water_dept, region=world.city, purpose="水环境联合监管"
    )
    return bearer(env.sharer)


def test_without_a_token_it_is_401_even_with_a_session(env: Env, client: Client) -> None:
    assert client.get(f"{BASE}/enterprises").status_code == 401
    client.force_login(env.inspector)
    response = client.get(f"{BASE}/enterprises")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_department_without_a_grant_is_forbidden(env: Env) -> None:
    response = Client().get(f"{BASE}/enterprises", headers=bearer(env.sharer))
    assert response.status_code == 403
    assert response.json()["code"] == "data_share_forbidden"


def test_granted_department_reads_enterprises_and_details(env: Env, granted) -> None:
    client = Client()
    listing = client.get(f"{BASE}/enterprises", headers=granted).json()
    assert listing["count"] == 1
    assert listing["items"][0]["uscc"] == env.enterprise.uscc
    detail = client.get(f"{BASE}/enterprises/{env.enterprise.uscc}", headers=granted).json()
    assert detail["permit"]["number"] == env.permit.number
    water = next(o for o in detail["outlets"] if o["code"] == "DW001")
    cod = next(limit for limit in water["limits"] if limit["code"] == "w01018")
    assert (cod["limit"], cod["judged_on"], cod["standard"]) == (
        "≤200",
        "day",
        "GB 8978—1996 表4 三级",
    )
    assert water["discharge_mode"] == "间接排放"
    assert water["mn"] == env.water_point.mn


def test_grant_scope_is_the_region(env: Env, world: World) -> None:
    services.data_share_grant(organisation=env.water_dept, region=world.other_town, purpose="测试")
    headers = bearer(env.sharer)
    client = Client()
    assert client.get(f"{BASE}/enterprises", headers=headers).json()["count"] == 0
    response = client.get(f"{BASE}/enterprises/{env.enterprise.uscc}", headers=headers)
    assert response.status_code == 404
    assert response.json()["code"] == "enterprise_not_found"
    assert (
        client.get(
            f"{BASE}/outlets/{env.water.pk}/readings",
            {
                "code": "w01018",
                "start": NOW.isoformat(),
                "end": (NOW + timedelta(hours=1)).isoformat(),
            },
            headers=headers,
        ).status_code
        == 404
    )


def test_errors_speak_chinese_first_and_english_on_request(env: Env, granted) -> None:
    url = f"{BASE}/enterprises/91330782MA2E3C7K1X"
    chinese = Client().get(url, headers=granted)
    english = Client().get(url, headers={**granted, "Accept-Language": "en"})
    assert (chinese.status_code, english.status_code) == (404, 404)
    assert chinese.json() == {"code": "enterprise_not_found", "message": "企业不存在或您无权查看"}
    assert english.json() == {
        "code": "enterprise_not_found",
        "message": "The enterprise does not exist or you may not view it",
    }
    month = Client().get(
        f"{BASE}/enterprises/{env.enterprise.uscc}/month-report",
        {"month": "2026/10"},
        headers={**granted, "Accept-Language": "en"},
    )
    assert (month.status_code, month.json()["code"]) == (422, "month_invalid")
    assert month.json()["message"] == "The month must be written YYYY-MM"


def test_inspectors_use_their_own_scope(env: Env) -> None:
    response = Client().get(f"{BASE}/enterprises", headers=bearer(env.inspector))
    assert response.json()["count"] == 1


def test_readings_and_range_limits(env: Env, granted) -> None:
    feed_normal_hours(env)
    client = Client()
    params = {
        "code": "w01018",
        "kind": "hour",
        "start": last_hours(3).isoformat(),
        "end": last_hours(0).isoformat(),
    }
    series = client.get(f"{BASE}/outlets/{env.water.pk}/readings", params, headers=granted).json()
    assert [v["value"] for v in series["values"]] == [85.0, 86.0, 80.0]
    too_long = {**params, "start": (NOW - timedelta(days=40)).isoformat()}
    response = client.get(f"{BASE}/outlets/{env.water.pk}/readings", too_long, headers=granted)
    assert response.status_code == 422 and response.json()["code"] == "range_invalid"


def test_alerts_month_report_and_stations(env: Env, granted) -> None:
    feed_normal_hours(env)
    point = env.air_point
    point.last_seen_at = NOW - timedelta(hours=2)
    point.save(update_fields=["last_seen_at"])
    sweep(now=NOW, stations=False)
    StationAqi.objects.create(
        point=env.station,
        period=AqiPeriod.HOUR,
        start=last_hours(1),
        edition="HJ633-2026",
        aqi=48,
        level=1,
        primary=[],
        iaqi={"pm25": 48},
        concentrations={"pm25": "33"},
        computed_at=NOW,
    )
    client = Client()
    alerts = client.get(f"{BASE}/alerts", {"status": "open"}, headers=granted).json()
    assert alerts["count"] == 1
    alert = alerts["items"][0]
    assert (alert["kind"], alert["kind_label"], alert["outlet_code"]) == (
        "offline",
        "设备离线",
        "DA001",
    )
    assert alert["case_number"] and alert["case_state"] == "dispatched"
    report = client.get(
        f"{BASE}/enterprises/{env.enterprise.uscc}/month-report",
        {"month": "2026-11"},
        headers=granted,
    ).json()
    assert report["month"] == "2026-11" and len(report["outlets"]) == 2
    assert len(report["outlets"][0]["pollutants"][0]["days"]) == 30
    stations = client.get(f"{BASE}/stations", headers=granted).json()
    assert stations[0]["latest"]["aqi"] == 48 and stations[0]["latest"]["category"] == "优"
    history = client.get(
        f"{BASE}/stations/{env.station.mn}/aqi",
        {"period": "hour", "start": "2026-11-20", "end": "2026-11-20"},
        headers=granted,
    ).json()
    assert [row["aqi"] for row in history] == [48]


def test_openapi_documents_the_sharing_endpoints(client: Client, db: None) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/env/enterprises",
        "/api/v1/env/enterprises/{uscc}/month-report",
        "/api/v1/env/outlets/{outlet_id}/readings",
        "/api/v1/env/alerts",
        "/api/v1/env/stations/{mn}/aqi",
    ):
        assert path in paths, path
    operation = paths["/api/v1/env/enterprises"]["get"]
    assert operation["security"] == [{"TokenAuth": []}]
