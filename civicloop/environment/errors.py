"""Stable machine-readable error codes of the environment app, with translatable messages."""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext as _

from civicloop.lib.errors import Forbidden, Invalid, NotFound


class Code(StrEnum):
    ENTERPRISE_NOT_FOUND = "enterprise_not_found"
    OUTLET_NOT_FOUND = "outlet_not_found"
    STATION_NOT_FOUND = "station_not_found"
    USCC_INVALID = "uscc_invalid"
    PERMIT_NUMBER_INVALID = "permit_number_invalid"
    PERMIT_DATES_INVALID = "permit_dates_invalid"
    OUTLET_CODE_INVALID = "outlet_code_invalid"
    INDUSTRY_CODE_INVALID = "industry_code_invalid"
    OUTSIDE_CITY = "enterprise_outside_city"
    DUPLICATE = "duplicate"
    LIMIT_INVALID = "limit_invalid"
    POINT_TAKEN = "monitoring_point_taken"
    MONTH_INVALID = "month_invalid"
    RANGE_INVALID = "range_invalid"
    SHARE_FORBIDDEN = "data_share_forbidden"
    EDITION_INVALID = "edition_invalid"


def enterprise_not_found() -> NotFound:
    return NotFound(Code.ENTERPRISE_NOT_FOUND, _("企业不存在或您无权查看"))


def outlet_not_found() -> NotFound:
    return NotFound(Code.OUTLET_NOT_FOUND, _("排放口不存在或您无权查看"))


def station_not_found() -> NotFound:
    return NotFound(Code.STATION_NOT_FOUND, _("微型站不存在"))


def invalid(code: Code, message: str) -> Invalid:
    return Invalid(code, message)


def share_forbidden() -> Forbidden:
    return Forbidden(Code.SHARE_FORBIDDEN, _("您的单位未获得环境数据共享授权"))
