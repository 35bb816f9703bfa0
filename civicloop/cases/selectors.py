"""Access-scoped reads of cases. Views and API handlers never query Case directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from civicloop.accounts.models import CENTRE_ROLES, UNIT_ROLES, Membership, Role, User
from civicloop.accounts.selectors import memberships_of
from civicloop.cases import errors
from civicloop.cases.models import Case, CaseEvent, CaseQuerySet, Category, State
from civicloop.cases.workflow import allowed_actions
from civicloop.lib import clock
from civicloop.regions.models import Level, Region

# Roles that see every case in their region (centres, grid workers on their grids, leaders).
AREA_ROLES = CENTRE_ROLES | {Role.GRID_WORKER}


def area_q(region: Region, prefix: str = "") -> Q:
    """Cases located in `region` or below it (mirrors CaseQuerySet.in_area)."""
    field = {
        Level.CITY: "city",
        Level.TOWN: "town",
        Level.VILLAGE: "village",
    }.get(Level(region.level))
    if field is not None:
        return Q(**{f"{prefix}{field}": region})
    return Q(**{f"{prefix}grid__path__startswith": region.path})


def region_covers(region: Region, case: Case) -> bool:
    level = Level(region.level)
    if level == Level.CITY:
        return case.city_id == region.pk
    if level == Level.TOWN:
        return case.town_id == region.pk
    if level == Level.VILLAGE:
        return case.village_id == region.pk
    return case.grid is not None and case.grid.path.startswith(region.path)


def membership_covers(membership: Membership, case: Case) -> bool:
    """Whether the membership's role may act on this case: units on the cases they hold,
    everyone else on cases in their region."""
    if Role(membership.role) in UNIT_ROLES:
        return (
            membership.organisation_id is not None
            and membership.organisation_id == case.assigned_org_id
        )
    return region_covers(membership.region, case)


def actions_for(user: User, case: Case) -> list[str]:
    """The actions the user could take on the case now (for UIs; services check again)."""
    names = []
    for action in allowed_actions(State(case.state)):
        if any(
            Role(m.role) in action.roles and membership_covers(m, case)
            for m in memberships_of(user)
        ):
            names.append(action.name)
    if case.reporter_id == user.pk:
        if case.state == State.DRAFT:
            names.append("submit_draft")
        if case.state == State.CLOSED and "reopen" not in names:
            names.append("reopen")
    return names


def _membership_q(membership: Membership) -> Q | None:
    role = Role(membership.role)
    if role in AREA_ROLES:
        return area_q(membership.region)
    if role in UNIT_ROLES and membership.organisation_id is not None:
        # A unit sees the cases it holds now and those it handled before (e.g. returned).
        handled = CaseEvent.objects.filter(actor_org=membership.organisation_id).values("case_id")
        return Q(assigned_org=membership.organisation_id) | Q(pk__in=handled)
    return None


def case_queryset_for(user: User) -> CaseQuerySet:
    """Every case the user may see; anything else is "not found"."""
    cases = Case.objects.all()
    if not user.is_authenticated or not user.is_active:
        return cases.none()
    if user.is_superuser:
        return cases.filter(Q(reporter=user) | ~Q(state=State.DRAFT))
    scope = Q(reporter=user)
    for membership in memberships_of(user):
        condition = _membership_q(membership)
        if condition is not None:
            scope |= condition
    # Drafts are the reporter's own until submitted.
    return cases.filter(scope).filter(Q(reporter=user) | ~Q(state=State.DRAFT))


def get_case_for_user(user: User, number: str) -> Case:
    case = (
        case_queryset_for(user)
        .select_related("category__parent", "town", "village", "grid", "assigned_org", "reporter")
        .filter(number=number)
        .first()
    )
    if case is None:
        raise errors.not_found()
    return case


def is_staff_viewer(user: User, case: Case) -> bool:
    """Staff of the centre or of the unit see internal notes; the public and reporters don't."""
    if user.is_superuser:
        return True
    for membership in memberships_of(user):
        role = Role(membership.role)
        if role in AREA_ROLES and region_covers(membership.region, case):
            return True
        if role in UNIT_ROLES and membership.organisation_id == case.assigned_org_id:
            return True
        if role in UNIT_ROLES and case.events.filter(actor_org=membership.organisation_id).exists():
            return True
    return False


def can_see_reporter(user: User, case: Case) -> bool:
    """Anonymous reporters are hidden from everyone but the centre (and themselves)."""
    if not case.is_anonymous or case.reporter_id == user.pk or user.is_superuser:
        return True
    return any(
        Role(m.role) in CENTRE_ROLES and region_covers(m.region, case) for m in memberships_of(user)
    )


def timeline_for(user: User, case: Case) -> list[CaseEvent]:
    events = case.events.select_related("actor", "actor_org").prefetch_related("photos")
    if not is_staff_viewer(user, case):
        events = events.filter(is_public=True)
    return list(events.order_by("seq"))


@dataclass(frozen=True)
class CaseFilters:
    states: tuple[str, ...] = ()
    category: str | None = None
    region: str | None = None
    source: str | None = None
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    overdue: bool | None = None
    assigned_to_me: bool = False
    q: str | None = None


def case_list_for(user: User, filters: CaseFilters) -> CaseQuerySet:
    cases = case_queryset_for(user)
    if filters.states:
        cases = cases.filter(state__in=filters.states)
    if filters.category:
        cases = cases.filter(
            Q(category__full_code=filters.category)
            | Q(category__parent__full_code=filters.category)
        )
    if filters.region:
        region = Region.objects.filter(code=filters.region).first()
        cases = cases.in_area(region) if region else cases.none()
    if filters.source:
        cases = cases.filter(source=filters.source)
    if filters.reported_from:
        cases = cases.filter(reported_at__gte=filters.reported_from)
    if filters.reported_to:
        cases = cases.filter(reported_at__lt=filters.reported_to)
    if filters.overdue is not None:
        overdue = Q(due_at__lt=clock.now()) & ~Q(state__in=_STOPPED)
        cases = cases.filter(overdue) if filters.overdue else cases.exclude(overdue)
    if filters.assigned_to_me:
        orgs = [m.organisation_id for m in memberships_of(user) if m.organisation_id]
        cases = cases.filter(assigned_org__in=orgs)
    if filters.q:
        cases = cases.filter(Q(number__icontains=filters.q) | Q(description__icontains=filters.q))
    return cases.select_related("category__parent", "town", "village", "grid", "assigned_org")


# States in which the disposal clock is not running (closed, or not yet at a unit).
_STOPPED = [
    State.DRAFT,
    State.REJECTED,
    State.MERGED,
    State.CLOSED,
    State.SUSPENDED,
]


def category_list() -> list[Category]:
    return list(
        Category.objects.filter(is_active=True, parent__isnull=False)
        .select_related("parent")
        .order_by("kind", "full_code")
    )
