"""API errors: a machine-readable code and a message in the caller's language (Chinese first)."""

from __future__ import annotations

import pytest
from django.test import Client

from civicloop.accounts.models import ApiToken, User

pytestmark = pytest.mark.django_db


def test_unauthenticated_is_chinese_by_default_and_english_on_request() -> None:
    chinese = Client().get("/api/v1/cases")
    english = Client().get("/api/v1/cases", headers={"Accept-Language": "en"})
    assert chinese.status_code == english.status_code == 401
    assert chinese.json() == {"code": "unauthenticated", "message": "请先登录"}
    assert english.json() == {"code": "unauthenticated", "message": "Please log in first"}


def test_wrong_password_changes_nothing_and_says_why_in_english(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.create_user("13900009999", "right-password", name="钱明")
    response = Client().post(
        "/api/v1/auth/token",
        {"mobile": "13900009999", "password": "wrong", "name": "测试"},
        content_type="application/json",
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert response.json()["message"] == "Wrong mobile number or password"
    assert ApiToken.objects.count() == 0


def test_a_case_out_of_reach_is_not_found_in_the_callers_language(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = Client()
    client.force_login(User.objects.create_user("13900009998", "x-password", name="孙强"))
    chinese = client.get("/api/v1/cases/YW202611260001")
    english = client.get("/api/v1/cases/YW202611260001", headers={"Accept-Language": "en"})
    assert chinese.status_code == english.status_code == 404
    assert chinese.json() == {"code": "case_not_found", "message": "案件不存在或您无权查看"}
    assert english.json() == {
        "code": "case_not_found",
        "message": "The case does not exist or you may not view it",
    }
