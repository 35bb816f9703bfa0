"""Write side of the permit register: enterprises, permit versions, outlets, limits.

Keyword-only, atomic, validating before writing; failures are `DomainError`s with stable codes
(errors.Code) and Chinese messages. Alerts and the sweep live in alerts.py and sweep.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils.translation import gettext as _

from civicloop.accounts.models import Organisation, User
from civicloop.environment import codes
from civicloop.environment.errors import Code, invalid
from civicloop.environment.models import (
    DataShareGrant,
    DischargeMode,
    DischargePattern,
    EnforcementTeam,
    Enterprise,
    ManagementCategory,
    Medium,
    MonitoringMode,
    MonitoringRequirement,
    Outlet,
    OutletClass,
    Permit,
    PermitLimit,
    Pollutant,
    SpecialPeriodLimit,
    Standard,
)
from civicloop.monitoring.models import MonitoringPoint
from civicloop.regions.lookup import locate_all
from civicloop.regions.models import Region


def _require(problem: str | None, code: Code) -> None:
    if problem:
        raise invalid(code, _(problem))  # codes.py marks its messages for translation


# ---------------------------------------------------------------- enterprises


@dataclass(frozen=True)
class EnterpriseData:
    uscc: str
    name: str
    legal_representative: str
    industry_code: str
    industry_name: str
    address: str
    latitude: float
    longitude: float
    management_category: ManagementCategory


@transaction.atomic
def enterprise_create(
    *,
    data: EnterpriseData,
    environmental_officer: User | None = None,
    organisation: Organisation | None = None,
) -> Enterprise:
    uscc = data.uscc.strip().upper()
    _require(codes.uscc_problem(uscc), Code.USCC_INVALID)
    _require(codes.industry_code_problem(data.industry_code), Code.INDUSTRY_CODE_INVALID)
    if Enterprise.objects.filter(uscc=uscc).exists():
        raise invalid(Code.DUPLICATE, _("该统一社会信用代码的企业已登记"))
    placement = locate_all(data.latitude, data.longitude)
    if placement is None:
        raise invalid(Code.OUTSIDE_CITY, _("企业位置不在本市网格范围内"))
    return Enterprise.objects.create(
        uscc=uscc,
        name=data.name.strip(),
        legal_representative=data.legal_representative.strip(),
        industry_code=data.industry_code,
        industry_name=data.industry_name.strip(),
        address=data.address.strip(),
        latitude=data.latitude,
        longitude=data.longitude,
        town=placement.town,
        village=placement.village,
        management_category=data.management_category,
        environmental_officer=environmental_officer,
        organisation=organisation,
    )


# ---------------------------------------------------------------- permits


def _check_permit_number(enterprise: Enterprise, number: str) -> None:
    _require(codes.permit_number_problem(number), Code.PERMIT_NUMBER_INVALID)
    if not number.startswith("H9") and number[:18] != enterprise.uscc:
        raise invalid(
            Code.PERMIT_NUMBER_INVALID, _("排污许可证编号前18位应为该企业的统一社会信用代码")
        )
    owner = Permit.objects.filter(number=number).exclude(enterprise=enterprise).exists()
    if owner:
        raise invalid(Code.DUPLICATE, _("该许可证编号已属于其他企业"))


def _check_dates(issued_on: date, valid_from: date, valid_to: date) -> None:
    if valid_to <= valid_from:
        raise invalid(Code.PERMIT_DATES_INVALID, _("有效期截止日期必须晚于起始日期"))
    if issued_on > valid_from:
        raise invalid(Code.PERMIT_DATES_INVALID, _("发证日期不能晚于有效期起始日期"))


@transaction.atomic
def permit_issue(
    *,
    enterprise: Enterprise,
    number: str,
    issued_on: date,
    valid_from: date,
    valid_to: date,
    authority: str,
    production_summary: str = "",
    change_note: str = "",
) -> Permit:
    """A permit version: the first under this number, or the next one (variation/renewal)."""
    number = number.strip()
    _check_permit_number(enterprise, number)
    _check_dates(issued_on, valid_from, valid_to)
    last = Permit.objects.filter(number=number).aggregate(v=Max("version"))["v"] or 0
    return Permit.objects.create(
        enterprise=enterprise,
        number=number,
        version=last + 1,
        issued_on=issued_on,
        valid_from=valid_from,
        valid_to=valid_to,
        authority=authority.strip(),
        production_summary=production_summary.strip(),
        change_note=change_note.strip(),
    )


@transaction.atomic
def permit_new_version(
    *,
    permit: Permit,
    issued_on: date,
    change_note: str,
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> Permit:
    """变更/延续: the next version, carrying over limits, special periods and monitoring."""
    new = permit_issue(
        enterprise=permit.enterprise,
        number=permit.number,
        issued_on=issued_on,
        valid_from=valid_from or permit.valid_from,
        valid_to=valid_to or permit.valid_to,
        authority=permit.authority,
        production_summary=permit.production_summary,
        change_note=change_note,
    )
    for limit in permit.limits.prefetch_related("special_periods"):
        specials = list(limit.special_periods.all())
        limit.pk, limit.permit = None, new
        limit.save()
        for special in specials:
            special.pk, special.limit = None, limit
            special.save()
    for requirement in permit.monitoring_requirements.all():
        requirement.pk, requirement.permit = None, new
        requirement.save()
    return new


def current_permit(enterprise: Enterprise, on: date) -> Permit | None:
    """The newest version in force on `on`, else the newest version at all."""
    permits = Permit.objects.filter(enterprise=enterprise).order_by("-valid_from", "-version")
    return permits.in_force(on).first() or permits.first()


# ---------------------------------------------------------------- outlets


@dataclass(frozen=True)
class OutletData:
    code: str
    name: str
    outlet_class: OutletClass
    discharge_pattern: DischargePattern
    destination: str
    latitude: float
    longitude: float
    is_organised: bool = True
    discharge_mode: DischargeMode | str = ""
    intermittent_periods: str = ""
    receiving_body: str = ""
    stack_height_m: float | None = None
    inner_diameter_m: float | None = None
    built_on: date | None = None


@transaction.atomic
def outlet_create(
    *, enterprise: Enterprise, data: OutletData, point: MonitoringPoint | None = None
) -> Outlet:
    code = data.code.strip().upper()
    _require(codes.outlet_code_problem(code), Code.OUTLET_CODE_INVALID)
    if enterprise.outlets.filter(code=code).exists():
        raise invalid(Code.DUPLICATE, _("该企业已有排放口 %(code)s") % {"code": code})
    medium = codes.outlet_medium(code) or ""
    if medium == Medium.AIR and data.discharge_mode:
        raise invalid(Code.OUTLET_CODE_INVALID, _("废气排放口不填写直接/间接排放方式"))
    outlet = Outlet.objects.create(
        enterprise=enterprise, medium=medium, **{**data.__dict__, "code": code}
    )
    if point is not None:
        outlet_link_point(outlet=outlet, point=point)
    return outlet


@transaction.atomic
def outlet_link_point(*, outlet: Outlet, point: MonitoringPoint | None) -> Outlet:
    taken = Outlet.objects.filter(monitoring_point=point).exclude(pk=outlet.pk)
    if point is not None and taken.exists():
        raise invalid(Code.POINT_TAKEN, _("该监测点已关联其他排放口"))
    Outlet.objects.filter(pk=outlet.pk).update(monitoring_point=point)
    outlet.monitoring_point = point
    return outlet


@transaction.atomic
def outlet_qr_reissue(*, outlet: Outlet) -> Outlet:
    """A new QR code: every label printed before stops working (lost or misused labels)."""
    Outlet.objects.filter(pk=outlet.pk).update(qr_version=F("qr_version") + 1)
    outlet.refresh_from_db(fields=["qr_version"])
    return outlet


# ---------------------------------------------------------------- permitted limits


@dataclass(frozen=True)
class LimitData:
    pollutant_code: str
    unit: str
    hourly_limit: float | None = None
    daily_limit: float | None = None
    low_limit: float | None = None
    promised_limit: float | None = None
    rate_limit_kg_h: float | None = None
    annual_limit_t: float | None = None
    standard_number: str = ""
    standard_table: str = ""
    standard_grade: str = ""
    standard_applicability: str = ""
    is_main: bool = True


def _limit_fields(data: LimitData) -> dict[str, Any]:
    values = [data.hourly_limit, data.daily_limit, data.low_limit, data.promised_limit]
    if any(v is not None and v < 0 for v in values):
        raise invalid(Code.LIMIT_INVALID, _("限值不能为负数"))
    standard = None
    if data.standard_number:
        standard = Standard.objects.filter(number=data.standard_number).first()
        if standard is None:
            raise invalid(
                Code.LIMIT_INVALID,
                _("标准库中没有 %(standard)s") % {"standard": data.standard_number},
            )
    if standard is None and data.hourly_limit is None and data.daily_limit is None:
        raise invalid(Code.LIMIT_INVALID, _("请填写许可浓度限值或执行标准"))
    fields = {
        k: v for k, v in data.__dict__.items() if k not in {"pollutant_code", "standard_number"}
    }
    return {**fields, "standard": standard}


@transaction.atomic
def permit_limit_set(*, permit: Permit, outlet: Outlet, data: LimitData) -> PermitLimit:
    if outlet.enterprise_id != permit.enterprise_id:
        raise invalid(Code.LIMIT_INVALID, _("排放口不属于该许可证的企业"))
    pollutant = Pollutant.objects.filter(code=data.pollutant_code).first()
    if pollutant is None or pollutant.medium != outlet.medium:
        raise invalid(Code.LIMIT_INVALID, _("污染物与排放口类别不符或不存在"))
    limit, _created = PermitLimit.objects.update_or_create(
        permit=permit, outlet=outlet, pollutant=pollutant, defaults=_limit_fields(data)
    )
    return limit


@transaction.atomic
def special_period_add(
    *,
    limit: PermitLimit,
    name: str,
    starts_on: date,
    ends_on: date,
    concentration_limit: float | None = None,
    daily_amount_kg: float | None = None,
) -> SpecialPeriodLimit:
    if ends_on < starts_on:
        raise invalid(Code.LIMIT_INVALID, _("特殊时段结束日期不能早于开始日期"))
    return SpecialPeriodLimit.objects.create(
        limit=limit,
        name=name.strip(),
        starts_on=starts_on,
        ends_on=ends_on,
        concentration_limit=concentration_limit,
        daily_amount_kg=daily_amount_kg,
    )


@transaction.atomic
def monitoring_requirement_add(
    *,
    permit: Permit,
    outlet: Outlet,
    mode: MonitoringMode,
    frequency: str,
    pollutant_code: str = "",
    content: str = "",
    is_networked: bool = False,
    method: str = "",
    note: str = "",
) -> MonitoringRequirement:
    pollutant = Pollutant.objects.filter(code=pollutant_code).first() if pollutant_code else None
    if pollutant_code and pollutant is None:
        raise invalid(Code.LIMIT_INVALID, _("未知的污染物编码 %(code)s") % {"code": pollutant_code})
    return MonitoringRequirement.objects.create(
        permit=permit,
        outlet=outlet,
        pollutant=pollutant,
        content=content,
        mode=mode,
        is_networked=is_networked,
        frequency=frequency,
        method=method,
        note=note,
    )


# ---------------------------------------------------------------- teams and sharing


@transaction.atomic
def enforcement_team_set(*, region: Region, organisation: Organisation) -> EnforcementTeam:
    team, _created = EnforcementTeam.objects.update_or_create(
        region=region, defaults={"organisation": organisation, "is_active": True}
    )
    return team


@transaction.atomic
def data_share_grant(*, organisation: Organisation, region: Region, purpose: str) -> DataShareGrant:
    grant, _created = DataShareGrant.objects.update_or_create(
        organisation=organisation,
        region=region,
        defaults={"purpose": purpose.strip(), "is_active": True},
    )
    return grant
