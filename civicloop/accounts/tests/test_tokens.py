from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from civicloop.accounts.models import ApiToken, hash_token
from civicloop.conftest import People


def test_create_token_prints_a_key_stored_only_as_a_hash(people: People, client: Any) -> None:
    out = io.StringIO()
    call_command("create_token", "13800000004", "12345 对接", stdout=out)
    key = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.key_hash, token.prefix) == (
        people.clerk,
        "12345 对接",
        hash_token(key),
        key[:8],
    )
    assert key not in token.key_hash
    me = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert (me["name"], [m["role"] for m in me["memberships"]]) == ("陈静", ["intake_clerk"])


def test_unknown_mobile_is_an_error(db: None) -> None:
    with pytest.raises(CommandError, match="用户不存在或已停用"):
        call_command("create_token", "13999999999", "x")
    assert ApiToken.objects.count() == 0


def test_revoked_token_is_refused(people: People, client: Any) -> None:
    out = io.StringIO()
    call_command("create_token", "13800000004", "x", stdout=out)
    ApiToken.objects.update(is_active=False)
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    assert response.status_code == 401
