"""Signing in by mobile number, signing out, switching the language."""

from __future__ import annotations

import pytest
from django.test import Client


def test_it_sends_visitors_to_the_login_page(client: Client, db: None):
    response = client.get("/report/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/report/"


def test_it_logs_in_by_mobile_and_password(client: Client, people):
    response = client.post("/login/", {"username": "13800000001", "password": "demo-pass-2026"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").context["user"] == people.resident


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "", "password": ""}, "请输入手机号"),
        ({"username": "13800000001", "password": ""}, "请输入密码"),
        ({"username": "1380000", "password": "x"}, "请输入11位手机号码"),
        ({"username": "13800000001", "password": "wrong-password"}, "手机号或密码不正确"),
    ],
)
def test_it_says_what_is_wrong_with_a_login(client: Client, people, data, message):
    response = client.post("/login/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_deactivated_account_cannot_log_in(client: Client, people):
    people.resident.is_active = False
    people.resident.save(update_fields=["is_active"])
    response = client.post("/login/", {"username": "13800000001", "password": "demo-pass-2026"})
    assert "手机号或密码不正确" in response.content.decode()


def test_it_logs_out_with_a_post(client_for, people):
    client = client_for(people.resident)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_it_switches_to_english_and_back(client_for, people):
    client = client_for(people.resident)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = client.get("/")
    assert english.headers["Content-Language"] == "en"
    # civicloop/web/locale/en (compiled by `make messages`).
    assert "Snap and report a problem" in english.content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    page = client.get("/")
    assert page.headers["Content-Language"] == "zh-hans"
    assert "上报问题" in page.content.decode()


def test_home_lists_only_the_users_workspaces(client_for, people):
    resident = client_for(people.resident).get("/").content.decode()
    assert "/centre/" not in resident and "/unit/" not in resident and "/grid/" not in resident
    clerk = client_for(people.clerk).get("/").content.decode()
    assert "/centre/" in clerk and "/unit/" not in clerk
    handler = client_for(people.handler).get("/").content.decode()
    assert "/unit/" in handler and "/centre/" not in handler
    grid = client_for(people.grid_worker).get("/").content.decode()
    assert "/grid/" in grid


def test_an_expired_session_under_htmx_reloads_the_login_page(client: Client, db: None):
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/centre/?queue=check"}
    response = client.get("/cases/YW1/panel/", headers=headers, follow=True)
    assert response["HX-Redirect"] == "/login/?next=%2Fcentre%2F%3Fqueue%3Dcheck"
