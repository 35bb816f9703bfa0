from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from civicloop.accounts.models import (
    ApiToken,
    Membership,
    Organisation,
    Role,
    User,
    hash_token,
    validate_mobile,
)
from civicloop.lib.errors import Invalid
from civicloop.regions.models import Region


def user_create(*, mobile: str, name: str, password: str | None = None, email: str = "") -> User:
    try:
        validate_mobile(mobile)
    except ValidationError as e:
        raise Invalid("invalid_mobile", str(e.messages[0])) from e
    if not name.strip():
        raise Invalid("name_required", _("请填写姓名"))
    if User.objects.filter(mobile=mobile).exists():
        raise Invalid("mobile_taken", _("该手机号已注册"))
    return User.objects.create_user(mobile, password, name=name.strip(), email=email)


def membership_grant(
    *, user: User, role: Role, region: Region, organisation: Organisation | None = None
) -> Membership:
    membership, _created = Membership.objects.update_or_create(
        user=user,
        role=role,
        organisation=organisation,
        region=region,
        defaults={"is_active": True},
    )
    return membership


@transaction.atomic
def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token; the key is returned once and only its hash is stored."""
    key = "cl_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, key_hash=hash_token(key), prefix=key[:8])
    return token, key
