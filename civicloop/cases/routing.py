"""Which unit should handle a case: routing rules as data (docs/cases.md, "Routing").

事件 are routed territory first (先属地、后属主): the rule of the deepest region containing the case
wins, the most specific category breaking ties. 部件 are routed owner first (先属主、后属地): the
rule of the most specific category wins (the asset's owner, wherever it stands), the deepest
region breaking ties. Priority breaks what is left. Only active units that may take the case
(a department, platform or community covering its location) are suggested.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from civicloop.accounts.models import Organisation, OrgKind
from civicloop.cases.models import Case, CategoryKind, RoutingRule
from civicloop.cases.selectors import region_covers
from civicloop.regions.models import LEVEL_DEPTH, Level

DISPATCHABLE = frozenset({OrgKind.DEPARTMENT, OrgKind.PLATFORM, OrgKind.COMMUNITY})
PRINCIPLES: dict[str, Promise] = {
    CategoryKind.EVENT: _("事件：先属地、后属主"),
    CategoryKind.COMPONENT: _("部件：先属主、后属地"),
}


@dataclass(frozen=True)
class Route:
    organisation: Organisation
    rule: RoutingRule
    auto: bool
    principle: str


def can_take(organisation: Organisation, case: Case) -> bool:
    return (
        organisation.kind in DISPATCHABLE
        and organisation.is_active
        and region_covers(organisation.region, case)
    )


def _category_rank(rule: RoutingRule, case: Case) -> int:
    if rule.category_id is None:
        return 0
    return 2 if rule.category_id == case.category_id else 1


def _region_rank(rule: RoutingRule) -> int:
    return -1 if rule.region is None else LEVEL_DEPTH[Level(rule.region.level)]


def _key(rule: RoutingRule, case: Case) -> tuple[int, int, int]:
    category, region = _category_rank(rule, case), _region_rank(rule)
    if case.category.kind == CategoryKind.COMPONENT:
        return (category, region, rule.priority)
    return (region, category, rule.priority)


def matching_rules(case: Case) -> list[RoutingRule]:
    """Every active rule that applies to the case, best first."""
    category = case.category
    regions = [r for r in (case.city_id, case.town_id, case.village_id, case.grid_id) if r]
    rules = (
        RoutingRule.objects.filter(is_active=True, kind=category.kind)
        .filter(Q(category__isnull=True) | Q(category_id__in=[category.pk, category.parent_id]))
        .filter(Q(region__isnull=True) | Q(region_id__in=regions))
        .select_related("region", "organisation__region")
    )
    usable = [rule for rule in rules if can_take(rule.organisation, case)]
    return sorted(usable, key=lambda rule: _key(rule, case), reverse=True)


def route_for(case: Case) -> Route | None:
    """The suggested unit for the case, or None when no rule applies."""
    rules = matching_rules(case)
    if not rules:
        return None
    best = rules[0]
    return Route(
        organisation=best.organisation,
        rule=best,
        auto=best.auto_dispatch,
        principle=str(PRINCIPLES[case.category.kind]),
    )
