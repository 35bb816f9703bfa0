"""Environmental data-sharing API for other departments: token authentication only.

Mounted by civicloop/api/urls.py at /api/v1/env/ with the project's bearer-token auth. A
department reads the enterprises of the region its `DataShareGrant` covers (inspectors of an
enforcement team read their own region); without a grant every call is `403
data_share_forbidden`, and an enterprise or outlet outside the grant is `404`.

No `from __future__ import annotations` here: ninja reads the parameter annotations at runtime.
"""

from datetime import date, datetime, timedelta
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import Field

from civicloop.accounts.models import User
from civicloop.environment import errors, selectors, stations
from civicloop.environment.errors import Code
from civicloop.environment.models import Alert, AlertStatus, AqiPeriod, Enterprise
from civicloop.environment.profiles import outlet_profile
from civicloop.environment.reports import month_report, parse_month
from civicloop.environment.schemas import (
    AlertOut,
    EnterpriseDetailOut,
    EnterpriseOut,
    MonthReportOut,
    SeriesOut,
    StationAqiOut,
    StationOut,
    ValueOut,
)
from civicloop.environment.services import current_permit
from civicloop.lib import clock
from civicloop.monitoring.models import ReadingKind
from civicloop.monitoring.selectors import readings_for

router = Router(tags=["environment 环境数据共享"])
MAX_HOURLY_DAYS = 31
MAX_DAILY_DAYS = 366


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class EnterpriseFilters(Schema):
    town: str = Field("", description="镇街区划代码")
    category: str = Field("", description="key / simplified / registration")


@router.get("/env/enterprises", response=list[EnterpriseOut], summary="排污单位列表")
@paginate(LimitOffsetPagination)
def enterprises(request: HttpRequest, filters: Query[EnterpriseFilters]) -> list[EnterpriseOut]:
    rows = selectors.shared_enterprises_for(_user(request)).order_by("uscc")
    if filters.town:
        rows = rows.filter(town__code=filters.town)
    if filters.category:
        rows = rows.filter(management_category=filters.category)
    return [EnterpriseOut.of(e) for e in rows]


@router.get(
    "/env/enterprises/{uscc}", response=EnterpriseDetailOut, summary="排污单位、许可证与排放口"
)
def enterprise(request: HttpRequest, uscc: str) -> EnterpriseDetailOut:
    found: Enterprise = selectors.get_shared_enterprise(_user(request), uscc)
    today = clock.local_date()
    outlets = found.outlets.filter(is_active=True).select_related("monitoring_point", "enterprise")
    profiles = [outlet_profile(o, on=today) for o in outlets.order_by("code")]
    return EnterpriseDetailOut.detail(found, current_permit(found, today), profiles)


@router.get(
    "/env/enterprises/{uscc}/month-report",
    response=MonthReportOut,
    summary="企业月度水气数据报告",
)
def report(
    request: HttpRequest, uscc: str, month: str = Query("", description="YYYY-MM；默认本月")
) -> MonthReportOut:
    found = selectors.get_shared_enterprise(_user(request), uscc)
    return MonthReportOut.of(month_report(found, parse_month(month, today=clock.local_date())))


class SeriesQuery(Schema):
    code: str = Field(description="污染物编码，如 w01018")
    kind: Literal["hour", "day"] = "hour"
    start: datetime
    end: datetime


@router.get(
    "/env/outlets/{outlet_id}/readings", response=SeriesOut, summary="排放口小时/日监测数据"
)
def readings(request: HttpRequest, outlet_id: int, query: Query[SeriesQuery]) -> SeriesOut:
    outlet = selectors.get_shared_outlet(_user(request), outlet_id)
    longest = timedelta(days=MAX_HOURLY_DAYS if query.kind == "hour" else MAX_DAILY_DAYS)
    if not query.start < query.end <= query.start + longest:
        raise errors.invalid(
            Code.RANGE_INVALID, _("时间范围应大于0且不超过%(days)s天") % {"days": longest.days}
        )
    kind = ReadingKind.HOUR if query.kind == "hour" else ReadingKind.DAY
    point = outlet.monitoring_point
    rows = readings_for(point, query.code, kind, query.start, query.end) if point else []
    values = [
        ValueOut(time=r.data_time, value=r.avg, corrected=r.zs_avg, flag=r.flag) for r in rows
    ]
    return SeriesOut(outlet_id=outlet.pk, code=query.code, kind=query.kind, values=values)


class AlertFilters(Schema):
    status: Literal["", "open", "resolved"] = ""
    since: datetime | None = Field(None, description="只返回此时间之后开始的预警")


@router.get("/env/alerts", response=list[AlertOut], summary="在线监测预警")
@paginate(LimitOffsetPagination)
def alerts(request: HttpRequest, filters: Query[AlertFilters]) -> list[AlertOut]:
    enterprises_ = selectors.shared_enterprises_for(_user(request))
    rows = Alert.objects.filter(outlet__enterprise__in=enterprises_).select_related(
        "outlet__enterprise", "case"
    )
    if filters.status:
        rows = rows.filter(status=AlertStatus(filters.status))
    if filters.since:
        rows = rows.filter(first_start__gte=filters.since)
    return [AlertOut.of(a) for a in rows.order_by("-first_start")]


@router.get("/env/stations", response=list[StationOut], summary="微型站及最新小时AQI")
def station_list(request: HttpRequest) -> list[StationOut]:
    selectors.shared_enterprises_for(_user(request))  # a grant is required here too
    _at, ranked = stations.ranking(AqiPeriod.HOUR)
    return [
        StationOut(
            mn=r.station.mn,
            name=r.station.name,
            latitude=r.station.latitude,
            longitude=r.station.longitude,
            rank=r.rank,
            latest=StationAqiOut.of(r.row) if r.row else None,
        )
        for r in ranked
    ]


class AqiQuery(Schema):
    period: Literal["hour", "day"] = "hour"
    start: date
    end: date


@router.get("/env/stations/{mn}/aqi", response=list[StationAqiOut], summary="微型站AQI历史")
def station_aqi(request: HttpRequest, mn: str, query: Query[AqiQuery]) -> list[StationAqiOut]:
    selectors.shared_enterprises_for(_user(request))
    station = stations.get_station(mn)
    if not query.start <= query.end <= query.start + timedelta(days=MAX_DAILY_DAYS):
        raise errors.invalid(Code.RANGE_INVALID, _("时间范围应不超过366天"))
    start = datetime(query.start.year, query.start.month, query.start.day, tzinfo=clock.SHANGHAI)
    end = datetime(query.end.year, query.end.month, query.end.day, tzinfo=clock.SHANGHAI)
    rows = stations.station_history(station, query.period, start, end + timedelta(days=1))
    return [StationAqiOut.of(row) for row in rows]
