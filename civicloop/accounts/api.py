from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from civicloop.accounts.selectors import memberships_of
from civicloop.accounts.services import token_create
from civicloop.lib.errors import DomainError

router = Router(tags=["accounts"])


class TokenIn(Schema):
    mobile: str = Field(min_length=11, max_length=11)
    password: str = Field(min_length=1, max_length=128)
    name: str = Field("client", max_length=100)


class TokenOut(Schema):
    token: str
    name: str


class MembershipOut(Schema):
    role: str
    role_display: str
    organisation: str | None
    organisation_name: str | None
    region: str
    region_name: str


class MeOut(Schema):
    mobile: str
    name: str
    memberships: list[MembershipOut]


@router.post("/auth/token", response={201: TokenOut}, auth=None)
def create_token(request: HttpRequest, payload: TokenIn) -> Status[TokenOut]:
    user = authenticate(request, mobile=payload.mobile, password=payload.password)
    if user is None or not user.is_active:
        raise DomainError("invalid_credentials", _("手机号或密码错误"), status=401)
    token, key = token_create(user=user, name=payload.name)
    return Status(201, TokenOut(token=key, name=token.name))


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> MeOut:
    user = request.user
    memberships = [
        MembershipOut(
            role=m.role,
            role_display=m.get_role_display(),
            organisation=m.organisation.code if m.organisation else None,
            organisation_name=m.organisation.name if m.organisation else None,
            region=m.region.code,
            region_name=m.region.name,
        )
        for m in memberships_of(user)  # type: ignore[arg-type]
    ]
    return MeOut(mobile=user.mobile, name=user.name, memberships=memberships)  # type: ignore[union-attr]
