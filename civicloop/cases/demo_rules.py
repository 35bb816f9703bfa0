"""Demo rules for Yiwu: the time limits in force and the routing rules of the demo units.

`load_demo_rules()` is idempotent and runs after the categories, regions and organisations
(`civicloop.accounts.demo`) are loaded. Routing follows each 小类's `default_owner`: a town unit
code (环卫所 hw, 园林绿化所 yl, …) gives one rule per town, for that town's unit; a city unit code
(水务局 sw, 交警 jt, …) one city-wide rule. Routine sanitation (hw) is dispatched automatically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from civicloop.accounts.demo import CITY_UNITS, TOWN_UNITS, town_slug
from civicloop.accounts.models import Organisation
from civicloop.cases.models import (
    Category,
    LimitUnit,
    RoutingRule,
    Stage,
    TimeLimit,
    TimeLimitVersion,
    Urgency,
)
from civicloop.cases.timelimits import time_limit_version_create
from civicloop.lib.clock import SHANGHAI
from civicloop.regions.models import Level, Region

VERSION_NAME = "义乌市基层治理案件时限（2025版）"
EFFECTIVE_FROM = datetime(2025, 1, 1, tzinfo=SHANGHAI)
H, D = LimitUnit.WORKING_HOURS, LimitUnit.WORKING_DAYS
# Stage limits for every category: (stage, urgency, value, unit).
STAGE_LIMITS = [
    (Stage.INTAKE, Urgency.NORMAL, 4, H),
    (Stage.INTAKE, Urgency.URGENT, 1, H),
    (Stage.VERIFY, Urgency.NORMAL, 4, H),
    (Stage.VERIFY, Urgency.URGENT, 1, H),
    (Stage.CLAIM, Urgency.NORMAL, 2, H),
    (Stage.CLAIM, Urgency.URGENT, 1, H),
    (Stage.CHECK, Urgency.NORMAL, 1, D),
    (Stage.CHECK, Urgency.URGENT, 2, H),
]
AUTO_DISPATCH_OWNERS = {"hw"}
# 稠城街道 (the city centre's busiest street) clears exposed rubbish faster.
CHOUCHENG = "330782001000"
OVERRIDES = [(CHOUCHENG, "event", "0102", Urgency.NORMAL, 2, H)]


@dataclass(frozen=True)
class DemoRules:
    version: TimeLimitVersion
    limits: int
    routing_rules: int


@transaction.atomic
def load_demo_rules() -> DemoRules:
    version = _load_time_limits()
    written = _load_routing_rules()
    return DemoRules(version, version.limits.count(), written)


def _load_time_limits() -> TimeLimitVersion:
    existing = TimeLimitVersion.objects.filter(name=VERSION_NAME).first()
    if existing is not None:
        return existing
    version = time_limit_version_create(
        name=VERSION_NAME, effective_from=EFFECTIVE_FROM, note="演示数据"
    )
    TimeLimit.objects.bulk_create(
        TimeLimit(version=version, stage=stage, urgency=urgency, value=value, unit=unit)
        for stage, urgency, value, unit in STAGE_LIMITS
    )
    for region_code, kind, code, urgency, value, unit in OVERRIDES:
        region = Region.objects.filter(code=region_code).first()
        category = Category.objects.filter(kind=kind, full_code=code).first()
        if region and category:
            TimeLimit.objects.create(
                version=version,
                stage=Stage.DISPOSE,
                category=category,
                urgency=urgency,
                region=region,
                value=value,
                unit=unit,
            )
    return version


def _load_routing_rules() -> int:
    town_owners = {code for code, _name in TOWN_UNITS}
    city_owners = {code for code, _name in CITY_UNITS}
    towns = list(Region.objects.filter(level=Level.TOWN).order_by("code"))
    orgs = {o.code: o for o in Organisation.objects.filter(is_active=True)}
    written = 0
    for category in Category.objects.filter(parent__isnull=False, is_active=True):
        owner = category.default_owner
        if owner in city_owners and f"yw-{owner}" in orgs:
            written += _rule(category, None, orgs[f"yw-{owner}"], auto=False)
        elif owner in town_owners:
            for town in towns:
                org = orgs.get(f"{town_slug(town)}-{owner}")
                if org is not None:
                    written += _rule(category, town, org, auto=owner in AUTO_DISPATCH_OWNERS)
    return written


def _rule(category: Category, region: Region | None, org: Organisation, *, auto: bool) -> int:
    _, created = RoutingRule.objects.get_or_create(
        kind=category.kind,
        category=category,
        region=region,
        organisation=org,
        defaults={"auto_dispatch": auto, "note": "演示数据：按分类默认责任部门"},
    )
    return int(created)
