"""Who an audience of a case event is, in people: `cases.audience.Audience` → user ids."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from civicloop.accounts.models import UNIT_ROLES, Membership, Role
from civicloop.cases.audience import Audience
from civicloop.cases.models import PUBLIC_SOURCES, Case, CaseEvent

A = Audience
Resolver = Callable[[Case, CaseEvent], set[int]]


def _members(roles: Iterable[Role], **where: object) -> set[int]:
    rows = Membership.objects.filter(
        is_active=True, user__is_active=True, role__in=list(roles), **where
    )
    return set(rows.values_list("user_id", flat=True))


def _reporter(case: Case, event: CaseEvent) -> set[int]:
    """The reporter (when they reported as the public) and everyone following the case."""
    ids = set(case.followers.values_list("user_id", flat=True))
    if case.reporter_id is not None and case.source in PUBLIC_SOURCES:
        ids.add(case.reporter_id)
    return ids


def _unit(role: Role) -> Resolver:
    def resolve(case: Case, event: CaseEvent) -> set[int]:
        if case.assigned_org_id is None:
            return set()
        return _members([role], organisation=case.assigned_org_id)

    return resolve


def _assisting(case: Case, event: CaseEvent) -> set[int]:
    orgs = case.assists.filter(ended_at__isnull=True).values("organisation")
    return _members(UNIT_ROLES, organisation__in=orgs)


def _named_unit(case: Case, event: CaseEvent) -> set[int]:
    """The unit an event names (the 会办 unit added or ended, the unit a case was recalled from)."""
    code = event.data.get("org") or event.data.get("from")
    return _members(UNIT_ROLES, organisation__code=code) if code else set()


def _grid_workers(case: Case, event: CaseEvent) -> set[int]:
    regions = [r for r in (case.grid_id, case.village_id) if r]
    return _members([Role.GRID_WORKER], region__in=regions)


def _town(*roles: Role) -> Resolver:
    def resolve(case: Case, event: CaseEvent) -> set[int]:
        return _members(roles, region=case.town_id) if case.town_id else set()

    return resolve


def _city(case: Case, event: CaseEvent) -> set[int]:
    roles = [Role.DISPATCHER, Role.SHIFT_LEAD, Role.EVALUATOR]
    return _members(roles, region=case.city_id) if case.city_id else set()


RESOLVERS: dict[Audience, Resolver] = {
    A.REPORTER: _reporter,
    A.UNIT_HANDLERS: _unit(Role.UNIT_HANDLER),
    A.UNIT_HEADS: _unit(Role.UNIT_HEAD),
    A.ASSISTING_UNITS: _assisting,
    A.NAMED_UNIT: _named_unit,
    A.GRID_WORKERS: _grid_workers,
    A.TOWN_CLERKS: _town(Role.INTAKE_CLERK),
    A.TOWN_DISPATCHERS: _town(Role.DISPATCHER),
    A.TOWN_VERIFIERS: _town(Role.VERIFIER),
    A.TOWN_SHIFT_LEADS: _town(Role.SHIFT_LEAD),
    A.TOWN_CENTRE: _town(Role.DISPATCHER, Role.SHIFT_LEAD),
    A.CITY_CENTRE: _city,
}


def people(audience: Audience, case: Case, event: CaseEvent) -> set[int]:
    return RESOLVERS[audience](case, event)
