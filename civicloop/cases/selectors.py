"""Access-scoped reads of cases. Views and API handlers never query Case directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Prefetch, Q, prefetch_related_objects

from civicloop.accounts.models import CENTRE_ROLES, UNIT_ROLES, Membership, Role, User
from civicloop.accounts.selectors import memberships_of
from civicloop.cases import errors
from civicloop.cases.models import (
    CLOSED_STATES,
    Case,
    CaseAssist,
    CaseClock,
    CaseCycle,
    CaseEvent,
    CaseFollower,
    CaseQuerySet,
    Category,
    Photo,
    State,
    Supervision,
    SupervisionKind,
)
from civicloop.cases.workflow import allowed_actions
from civicloop.lib import clock, rows
from civicloop.regions.models import Level, Region

# A case page needs its regions' names and codes, not their (large) GeoJSON boundaries.
REGION_BOUNDARIES = ("town__boundary", "village__boundary", "grid__boundary")

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


def membership_assists(membership: Membership, case: Case) -> bool:
    """Whether the membership is in a unit assisting (会办) on the case."""
    return (
        Role(membership.role) in UNIT_ROLES
        and membership.organisation_id is not None
        and CaseAssist.objects.filter(
            case=case, organisation=membership.organisation_id, ended_at__isnull=True
        ).exists()
    )


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
        for name in ("reopen", "rate"):
            if case.state == State.CLOSED and name not in names:
                names.append(name)
    elif case.state not in CLOSED_STATES and not is_staff_viewer(user, case):
        # The public may follow an open case ("我也遇到").
        following = case.followers.filter(user=user.pk).exists()
        names.append("unfollow" if following else "follow")
    return names


def _membership_q(membership: Membership) -> Q | None:
    role = Role(membership.role)
    if role in AREA_ROLES:
        return area_q(membership.region)
    if role in UNIT_ROLES and membership.organisation_id is not None:
        # A unit sees the cases it holds now, those it handled before (e.g. returned) and
        # those it assists on (会办).
        org = membership.organisation_id
        handled = CaseEvent.objects.filter(actor_org=org).values("case_id")
        assisting = CaseAssist.objects.filter(organisation=org, ended_at__isnull=True)
        return Q(assigned_org=org) | Q(pk__in=handled) | Q(pk__in=assisting.values("case_id"))
    return None


def case_queryset_for(user: User) -> CaseQuerySet:
    """Every case the user may see; anything else is "not found"."""
    cases = Case.objects.all()
    if not user.is_authenticated or not user.is_active:
        return cases.none()
    if user.is_superuser:
        return cases.filter(Q(reporter=user) | ~Q(state=State.DRAFT))
    # Reporters see their cases; followers the cases they follow ("我也遇到", merged).
    scope = Q(reporter=user) | Q(pk__in=CaseFollower.objects.filter(user=user).values("case_id"))
    for membership in memberships_of(user):
        condition = _membership_q(membership)
        if condition is not None:
            scope |= condition
    # Drafts are the reporter's own until submitted.
    return cases.filter(scope).filter(Q(reporter=user) | ~Q(state=State.DRAFT))


# The rows a case page shows besides the case, joined into its statement. The three regions
# are read by primary key instead: with them joined too, PostgreSQL planned an eight-way join
# for about 6 ms to execute it in 0.4 (the planning grows with every table joined).
_CASE_RELATED = ("category__parent", "assigned_org", "reporter")
_CASE_REGIONS = ("town", "village", "grid")


def get_case_for_user(user: User, number: str) -> Case:
    """The case numbered `number` if the user may see it, else "not found". Call it once per
    request and pass the case on (the services keep it current)."""
    # No ORDER BY (`first()` would add one): the number is unique.
    found = list(
        case_queryset_for(user).select_related(*_CASE_RELATED).filter(number=number).order_by()[:1]
    )
    if not found:
        raise errors.not_found()
    _attach_regions(found[0])
    return found[0]


# The columns of the case's regions, in model order (as `from_db` wants them): text, numbers
# and ids, which need no converters; the boundary (large) and updated_at stay deferred.
_REGION_FIELDS = tuple(
    f.attname for f in Region._meta.concrete_fields if f.name not in ("boundary", "updated_at")
)


def _attach_regions(case: Case) -> None:
    """The case's town, village and grid, in one statement built once."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in _REGION_FIELDS)
    table = quote(Region._meta.db_table)
    ids = [getattr(case, f"{name}_id") for name in _CASE_REGIONS]  # a missing one: NULL
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} WHERE id IN (%s, %s, %s)", ids)
        found = cursor.fetchall()
    regions = {row[0]: Region.from_db(connection.alias, _REGION_FIELDS, row) for row in found}
    for name, pk in zip(_CASE_REGIONS, ids, strict=True):
        # Caches the region on the case (or None, as select_related leaves a null key).
        setattr(case, name, regions.get(pk))


def get_case_to_follow(user: User, number: str) -> Case:
    """Any open, submitted case may be followed ("我也遇到"): its public steps are public."""
    case = None
    if user.is_authenticated and user.is_active:
        case = (
            Case.objects.filter(number=number)
            .exclude(state__in=[*CLOSED_STATES, State.DRAFT])
            .first()
        )
    if case is None:
        raise errors.not_found()
    return case


def assists_of(case: Case) -> list[CaseAssist]:
    """The units assisting (会办) now, with their regions (for their codes)."""
    found = _ASSISTS.all([case.pk])
    if found:
        prefetch_related_objects([a.organisation for a in found], "region")
    return _of_case(case, found)


def is_staff_viewer(user: User, case: Case) -> bool:
    """Staff of the centre or of the unit see internal notes; the public and reporters don't.
    Remembered on the case object for its current version (one page asks several times)."""
    key = (user.pk, case.version, case.assigned_org_id)
    memo: dict[tuple[Any, ...], bool] = case.__dict__.setdefault("_civicloop_staff", {})
    if key not in memo:
        memo[key] = _is_staff_viewer(user, case)
    return memo[key]


def _is_staff_viewer(user: User, case: Case) -> bool:
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
        if membership_assists(membership, case):
            return True
    return False


def can_see_reporter(user: User, case: Case) -> bool:
    """Reporters are shown to staff (anonymous ones to the centre only), never to followers."""
    if case.reporter_id == user.pk or user.is_superuser:
        return True
    if not case.is_anonymous:
        return is_staff_viewer(user, case)
    return any(
        Role(m.role) in CENTRE_ROLES and region_covers(m.region, case) for m in memberships_of(user)
    )


# A case page's lists (and the answer to every transition): their statements are built once,
# not compiled by the ORM on every request (about a millisecond of CPU each). The orders are
# those of the models' querysets the pages read before.
_EVENT_PEOPLE = ("actor", "actor_org")
_TIMELINE = rows.Select(CaseEvent, "t0.case_id = %s", related=_EVENT_PEOPLE, order="t0.seq")
_PUBLIC_TIMELINE = rows.Select(
    CaseEvent, "t0.case_id = %s AND t0.is_public = %s", related=_EVENT_PEOPLE, order="t0.seq"
)
_CLOCKS = rows.Select(CaseClock, "t0.case_id = %s", order="t0.id")
_ISSUERS = ("issued_by", "issuer_org")
_SUPERVISIONS = rows.Select(
    Supervision, "t0.case_id = %s", related=_ISSUERS, order="t0.issued_at, t0.id"
)
_KIND_SUPERVISIONS = rows.Select(
    Supervision, "t0.case_id = %s AND t0.kind = %s", related=_ISSUERS, order="t0.issued_at, t0.id"
)
_ASSISTS = rows.Select(
    CaseAssist,
    "t0.case_id = %s AND t0.ended_at IS NULL",
    related=("organisation",),
    order="t0.added_at, t0.id",
)

R = TypeVar("R", CaseEvent, CaseClock, Supervision, CaseAssist)


def _of_case(case: Case, found: list[R]) -> list[R]:
    """Each row's case is this one (as the case's related managers leave them)."""
    for row in found:
        type(row).case.field.set_cached_value(row, case)
    return found


def timeline_for(user: User, case: Case) -> list[CaseEvent]:
    if is_staff_viewer(user, case):
        events = _TIMELINE.all([case.pk])
    else:
        events = _PUBLIC_TIMELINE.all([case.pk, True])
    # An event's photos are of one case: by id is their default order ("case", "id"), without
    # the join to the case that ordering by the case brings (and the case's own ordering).
    prefetch_related_objects(events, Prefetch("photos", queryset=Photo.objects.order_by("id")))
    return _of_case(case, events)


def clocks_for(user: User, case: Case) -> list[CaseClock]:
    """Stage clocks are internal: staff only."""
    if not is_staff_viewer(user, case):
        return []
    return _of_case(case, _CLOCKS.all([case.pk]))


def supervisions_for(user: User, case: Case) -> list[Supervision]:
    """Staff see every supervision; the public only 挂牌督办 (listed supervision is public)."""
    if is_staff_viewer(user, case):
        found = _SUPERVISIONS.all([case.pk])
    else:
        found = _KIND_SUPERVISIONS.all([case.pk, SupervisionKind.LISTED.value])
    return _of_case(case, found)


def cycles_for(user: User, case: Case) -> list[CaseCycle]:
    """The closed cycles of a reopened case (往次办理), for staff; none for anyone else."""
    if not case.reopen_count or not is_staff_viewer(user, case):
        return []
    return list(case.cycles.select_related("assigned_org").order_by("cycle"))


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
    sla_level: int | None = None
    supervised: bool | None = None


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
        overdue = Q(due_at__lt=clock.now(), disposed_at__isnull=True) & ~Q(state__in=_STOPPED)
        cases = cases.filter(overdue) if filters.overdue else cases.exclude(overdue)
    if filters.sla_level is not None:
        cases = cases.filter(sla_level__gte=filters.sla_level)
    if filters.supervised is not None:
        cases = (
            cases.exclude(supervision="") if filters.supervised else cases.filter(supervision="")
        )
    if filters.assigned_to_me:
        orgs = [m.organisation_id for m in memberships_of(user) if m.organisation_id]
        cases = cases.filter(assigned_org__in=orgs)
    if filters.q:
        cases = cases.filter(Q(number__icontains=filters.q) | Q(description__icontains=filters.q))
    return cases.select_related(
        "category__parent", "town", "village", "grid", "assigned_org"
    ).defer(*REGION_BOUNDARIES)


# States in which the disposal clock is not running (closed, suspended, or never started).
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
