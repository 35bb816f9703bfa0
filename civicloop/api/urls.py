"""The one NinjaAPI at /api/v1/: authentication, error mapping and the app routers."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, SessionAuth

from civicloop.accounts.api import router as accounts_router
from civicloop.accounts.selectors import user_for_token
from civicloop.cases.api import router as cases_router
from civicloop.environment.api import router as environment_router
from civicloop.lib.errors import DomainError


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="civicloop API",
    version="1",
    description="义乌基层治理闭环平台接口 · civicloop grassroots governance API",
    urls_namespace="api-v1",
    auth=[SessionAuth(csrf=True), TokenAuth()],
)


def error_response(
    request: HttpRequest, status: int, code: str, message: str, **details: Any
) -> HttpResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return api.create_response(request, body, status=status)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, exc.message, **exc.details)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type")}
        for e in exc.errors
    ]
    return error_response(
        request, 422, "validation_error", _("提交的数据不完整或格式不正确"), errors=errors
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "unauthenticated", _("请先登录"))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", _("您访问的内容不存在"))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(request, exc.status_code, "http_error", str(exc))


api.add_router("/", accounts_router)
api.add_router("/", cases_router)
api.add_router("/", "civicloop.notifications.api.router")
api.add_router("/", environment_router, auth=TokenAuth())
