"""Pages: the scanned QR page (public vs inspector, tampering), enterprise pages, labels,
month report exports, alerts, micro stations."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from civicloop.accounts.models import User
from civicloop.conftest import People
from civicloop.environment import qr, services
from civicloop.environment.models import AqiPeriod, StationAqi
from civicloop.environment.sweep import sweep
from civicloop.environment.tests.conftest import DAY, NOW, Env, feed, feed_normal_hours
from civicloop.lib import clock
from civicloop.monitoring.models import ReadingKind
from civicloop.monitoring.rollups import day_start

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], Client]


@pytest.fixture(autouse=True)
def _now() -> object:
    with clock.frozen(NOW):
        yield


def scan_url(env: Env) -> str:
    return qr.outlet_path(env.water)


def test_the_public_sees_what_the_permit_system_publishes(env: Env, client: Client) -> None:
    feed_normal_hours(env)
    response = client.get(scan_url(env))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        env.enterprise.name,
        "DW001",
        "间接排放",
        "连续排放，流量稳定",
        "化学需氧量",
        "≤200",
        "GB 8978—1996 表4 三级",
        env.permit.number,
        "近30天小时数据",
        "vendor/echarts/echarts.min.js",
        "在线 · 最近小时值达标",
    ):
        assert text in html, text
    for secret in (env.water_point.mn, "许可证副本", "预警与案件", "印染生产线2条"):
        assert secret not in html, secret
    cod = next(s for s in response.context["chart"]["series"] if s["code"] == "w01018")
    assert (cod["high"], cod["period"], len(cod["points"])) == (200, "day", 36)


def test_inspectors_also_see_the_permit_copy_device_and_alerts(
    env: Env, client_for: ClientFor
) -> None:
    feed_normal_hours(env)
    feed(env.water, "w01018", [230], start=day_start(NOW) - DAY, kind=ReadingKind.DAY)
    sweep(now=NOW, stations=False)
    response = client_for(env.inspector).get(scan_url(env))
    html = response.content.decode()
    assert response.context["inspector"] is True
    for text in (
        env.water_point.mn,
        "许可证副本",
        "印染生产线2条",
        "预警与案件",
        "超标排放",
    ):
        assert text in html, text
    assert response.context["alerts"][0].case.number in html


def test_a_logged_in_non_inspector_sees_the_public_page(
    env: Env, people: People, client_for: ClientFor
) -> None:
    response = client_for(people.clerk).get(scan_url(env))
    assert response.status_code == 200
    assert response.context["inspector"] is False
    assert env.water_point.mn not in response.content.decode()


def test_a_tampered_or_retired_qr_code_is_not_found(env: Env, client: Client) -> None:
    token = qr.outlet_token(env.water)
    assert client.get(reverse("environment:scan", args=[token])).status_code == 200
    other_id = token.replace(f"{env.water.pk}.", f"{env.air.pk}.", 1)
    assert client.get(reverse("environment:scan", args=[other_id])).status_code == 404
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(reverse("environment:scan", args=[flipped])).status_code == 404
    assert client.get(reverse("environment:scan", args=["garbage"])).status_code == 404
    services.outlet_qr_reissue(outlet=env.water)
    assert client.get(reverse("environment:scan", args=[token])).status_code == 404
    assert client.get(qr.outlet_path(env.water)).status_code == 200


def test_qr_encodes_the_absolute_signed_url(env: Env, settings) -> None:
    settings.SITE_URL = "https://civicloop.example.cn/"
    url = qr.outlet_url(env.water)
    assert url.startswith("https://civicloop.example.cn/env/q/")
    assert qr.outlet_from_token(url.rsplit("/", 2)[-2]) == env.water
    assert qr.qr_svg(url).startswith("<svg")
    assert qr.qr_png(url)[:8] == b"\x89PNG\r\n\x1a\n"


def test_inspector_pages_are_not_found_for_others(
    env: Env, people: People, client_for: ClientFor, client: Client
) -> None:
    urls = [
        reverse("environment:enterprises"),
        reverse("environment:enterprise", args=[env.enterprise.uscc]),
        reverse("environment:outlet", args=[env.water.pk]),
        reverse("environment:labels", args=[env.enterprise.uscc]),
        reverse("environment:report", args=[env.enterprise.uscc]),
        reverse("environment:alerts"),
    ]
    for url in urls:
        assert client_for(people.clerk).get(url).status_code == 404, url
        assert client.get(url).status_code == 302, url  # to the login page
        assert client_for(env.inspector).get(url).status_code == 200, url


def test_enterprise_list_and_detail(env: Env, client_for: ClientFor) -> None:
    inspector = client_for(env.inspector)
    listing = inspector.get(reverse("environment:enterprises"), {"q": "清溪"})
    assert env.enterprise.name in listing.content.decode()
    assert (
        inspector.get(reverse("environment:enterprises"), {"q": "没有"})
        .context["page"]
        .paginator.count
        == 0
    )
    detail = inspector.get(reverse("environment:enterprise", args=[env.enterprise.uscc]))
    html = detail.content.decode()
    assert "DW001" in html and "DA001" in html and env.permit.number in html
    assert "孝子祠 微型站" in html


def test_label_sheet_pdf(env: Env, client_for: ClientFor) -> None:
    response = client_for(env.inspector).get(
        reverse("environment:labels", args=[env.enterprise.uscc])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    assert b"/Subtype /Image" in pdf  # the QR codes
    assert pdf.count(b"/Type /Page\n") == 1  # two outlets, two labels on one A4 page


def test_month_report_page_and_exports(env: Env, client_for: ClientFor) -> None:
    inspector = client_for(env.inspector)
    url = reverse("environment:report", args=[env.enterprise.uscc])
    page = inspector.get(url, {"month": "2026-10"})
    assert page.status_code == 200
    assert page.context["report"].month == date(2026, 10, 1)
    assert inspector.get(url).context["report"].month == date(2026, 11, 1)  # this month
    assert inspector.get(url, {"month": "oct"}).status_code == 422

    csv_url = reverse("environment:report-export", args=[env.enterprise.uscc, "csv"])
    csv = inspector.get(csv_url, {"month": "2026-10"})
    text = csv.content.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("日期,排放口编号")
    assert len(lines) == 1 + 31 * 3  # 3 permitted pollutants × 31 days
    assert "attachment" in csv["Content-Disposition"]
    stations_csv = inspector.get(csv_url, {"month": "2026-10", "part": "stations"})
    assert stations_csv.content.decode("utf-8-sig").startswith("日期,微型站")

    xlsx_url = reverse("environment:report-export", args=[env.enterprise.uscc, "xlsx"])
    book = load_workbook(io.BytesIO(inspector.get(xlsx_url, {"month": "2026-10"}).content))
    assert book.sheetnames == ["排放口日数据", "预警与案件", "周边微型站"]
    assert book["排放口日数据"].max_row == 1 + 31 * 3
    assert (
        inspector.get(
            reverse("environment:report-export", args=[env.enterprise.uscc, "pdf"])
        ).status_code
        == 404
    )


def test_alerts_page(env: Env, client_for: ClientFor) -> None:
    feed_normal_hours(env)
    env.air_point.last_seen_at = NOW.replace(hour=8)
    env.air_point.save(update_fields=["last_seen_at"])
    sweep(now=NOW, stations=False)
    html = client_for(env.inspector).get(reverse("environment:alerts")).content.decode()
    assert "设备离线" in html and "DA001" in html


def test_stations_ranking_map_and_detail(env: Env, client: Client) -> None:
    StationAqi.objects.create(
        point=env.station,
        period=AqiPeriod.HOUR,
        start=NOW.replace(minute=0),
        edition="HJ633-2026",
        aqi=112,
        level=3,
        primary=["pm25"],
        iaqi={"pm25": 112},
        concentrations={"pm25": "75"},
        computed_at=NOW,
    )
    page = client.get(reverse("environment:stations"))
    assert page.status_code == 200
    assert page.context["markers"][0]["colour"] == "#FF7E00"
    assert "轻度污染" in page.content.decode()
    detail = client.get(reverse("environment:station", args=[env.station.mn]))
    assert detail.status_code == 200
    assert ("细颗粒物(PM2.5)", 112, "75") in detail.context["items"]
    assert client.get(reverse("environment:station", args=["NOPE"])).status_code == 404


def test_admin_pages_render(env: Env, client: Client) -> None:
    admin_user = User.objects.create_superuser("13800000199", "pw-2026-admin", name="管理员")
    client.force_login(admin_user)
    for name in (
        "enterprise",
        "permit",
        "outlet",
        "standard",
        "standardedition",
        "alert",
        "stationaqi",
        "enforcementteam",
        "datasharegrant",
        "pollutant",
    ):
        assert client.get(reverse(f"admin:environment_{name}_changelist")).status_code == 200, name
    gb8978 = reverse("admin:environment_standard_changelist") + "?q=8978"
    assert "GB 8978" in client.get(gb8978).content.decode()
