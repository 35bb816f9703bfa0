"""Write side of the closed loop: one atomic, audited function per action.

Every function takes keyword arguments, checks the state, the role and the required fields
before it writes anything, applies the change with a compare-and-swap on `Case.version` (of two
concurrent transitions exactly one wins; the other gets `case_conflict`), and appends one event
per change to the case's timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from civicloop.accounts.models import (
    CENTRE_ROLES,
    Organisation,
    Role,
    User,
)
from civicloop.accounts.selectors import (
    Actor,
    memberships_branch,
    memberships_loaded,
    memberships_of,
)
from civicloop.cases import errors, events, kpi_rollups, routing, sla
from civicloop.cases.errors import Code
from civicloop.cases.events import event_record
from civicloop.cases.models import (
    CLOSED_STATES,
    CYCLE_FACTS,
    SUPERVISION_RANK,
    Case,
    CaseAssist,
    CaseClock,
    CaseCycle,
    CaseEvent,
    CaseFollower,
    CaseNumberSequence,
    Category,
    ClosureReason,
    Dispatch,
    DispatchOutcome,
    EventType,
    FollowVia,
    Photo,
    PhotoKind,
    RejectReason,
    ReturnReason,
    Satisfaction,
    Source,
    State,
    Supervision,
    SupervisionKind,
    Urgency,
)
from civicloop.cases.selectors import membership_assists, membership_covers
from civicloop.cases.workflow import ACTIONS, Action
from civicloop.lib import clock, photos, rows
from civicloop.lib.errors import DomainError, Forbidden
from civicloop.lib.updates import update_returning
from civicloop.regions.geometry import check_lat_lon
from civicloop.regions.lookup import (
    Placement,
    locate,
    locate_all,
    locate_all_probing,
    locate_all_riding,
)
from civicloop.regions.models import Region


@dataclass(frozen=True)
class CategoryCode:
    """A 小类 as a client names it (kind and full code, e.g. event 0102): `case_report` reads it
    in the statement it reads the placement with."""

    kind: str
    code: str


@dataclass(frozen=True)
class PhotoUpload:
    name: str
    data: bytes


@dataclass(frozen=True)
class _CheckedPhoto:
    upload: PhotoUpload
    info: photos.PhotoInfo


# ---------------------------------------------------------------- helpers


def _acting(by: User, case: Case, action: Action) -> Actor:
    """The capacity in which `by` may take `action` on `case`.

    The state is checked first: an action the case's state does not allow is a conflict
    (409) whoever asks; then the role (403).
    """
    _require_state(case, action)
    for membership in memberships_of(by):
        if Role(membership.role) in action.roles and membership_covers(membership, case):
            return Actor(by, Role(membership.role), membership.organisation, membership.region)
    raise errors.role_not_allowed(str(action.label))


def _public_actor(by: User) -> Actor:
    for membership in memberships_of(by):
        return Actor(by, Role(membership.role), membership.organisation, membership.region)
    return Actor(by, Role.RESIDENT, None, None)


def _require_state(case: Case, action: Action) -> None:
    if case.state not in action.sources:
        raise errors.invalid_transition(str(action.label), case.get_state_display())


def _require_text(value: str, code: Code, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise errors.invalid(code, message)
    return value


def _check_photos(uploads: Sequence[PhotoUpload], *, minimum: int = 0) -> list[_CheckedPhoto]:
    """Validate every photo by content before anything is written."""
    if len(uploads) < minimum:
        raise errors.invalid(
            Code.PHOTOS_REQUIRED, _("请至少上传%(count)d张照片") % {"count": minimum}
        )
    if len(uploads) > settings.PHOTO_MAX_COUNT:
        raise errors.invalid(
            Code.TOO_MANY_PHOTOS,
            _("每次最多上传%(count)d张照片") % {"count": settings.PHOTO_MAX_COUNT},
        )
    checked = []
    for upload in uploads:
        try:
            info = photos.inspect_photo(upload.data, max_bytes=settings.PHOTO_MAX_BYTES)
        except photos.PhotoTooLarge as e:
            raise DomainError(e.code, e.localized(_), status=413, photo=upload.name) from e
        except photos.PhotoError as e:
            raise DomainError(e.code, e.localized(_), status=415, photo=upload.name) from e
        checked.append(_CheckedPhoto(upload, info))
    return checked


def _store_photos(
    case: Case, event: CaseEvent, checked: list[_CheckedPhoto], kind: PhotoKind, by: User | None
) -> None:
    private, public = storages["private"], storages["default"]
    created: list[tuple[Any, str]] = []
    try:
        for item in checked:
            info = item.info
            stem = f"cases/{info.sha256[:2]}/{info.sha256}"
            original_name = f"{stem}.{info.extension}"
            public_data, public_type = photos.public_copy(item.upload.data)
            public_name = f"{stem}-public.{public_type.split('/')[-1]}"
            for storage, name, data in (
                (private, original_name, item.upload.data),
                (public, public_name, public_data),
            ):
                # Content-addressed: the same photo uploaded twice is stored once.
                if not storage.exists(name):
                    storage.save(name, ContentFile(data))
                    created.append((storage, name))
            Photo.objects.create(
                case=case,
                event=event,
                kind=kind,
                original=original_name,
                public=public_name,
                content_type=info.content_type,
                extension=info.extension,
                size=info.size,
                width=info.width,
                height=info.height,
                sha256=info.sha256,
                taken_at=info.taken_at,
                gps_lat=info.gps_lat,
                gps_lon=info.gps_lon,
                uploaded_by=by,
                uploaded_at=clock.now(),
            )
    except BaseException:
        for storage, name in created:
            storage.delete(name)
        raise


def _apply(
    case: Case,
    action: Action,
    actor: Actor | None,
    *,
    updates: dict[str, Any] | None = None,
    reason: str = "",
    note: str = "",
    is_public: bool = True,
    data: dict[str, Any] | None = None,
    photos: list[_CheckedPhoto] | None = None,
    photo_kind: PhotoKind = PhotoKind.EVIDENCE,
    carry: sla.Carry | None = None,
) -> CaseEvent:
    """Move the case (compare-and-swap on its version), run its clocks and append the event.
    `carry`: what the service call's earlier actions read of the clocks (`sla.Carry`)."""
    _require_state(case, action)
    from_state = case.state
    target = action.target or State(case.state)
    now = clock.now()
    # The compare-and-swap returns the row: the case is current without reading it again.
    _swap(case, state=target, version=F("version") + 1, updated_at=now, **(updates or {}))
    by = actor.user if actor else None
    _store_facts(case, sla.on_action(case, action.name, at=now, by=by, carry=carry))
    event = event_record(
        case=case,
        type=action.event,
        actor=actor,
        from_state=from_state,
        to_state=target if action.target else "",
        reason=reason,
        note=note,
        is_public=is_public,
        data=data,
    )
    if photos:
        _store_photos(case, event, photos, photo_kind, by)
    return event


def _swap(case: Case, **updates: Any) -> None:
    """The compare-and-swap of a transition: applies to the version the caller read, and to a
    case that is not in the KPI rollups. A rolled case (settled long ago, then reopened or rated
    by the centre, say) is locked and un-rolled first, in this transaction (cases.kpi_rollups);
    otherwise another transition won. The case takes the row's new values."""
    rows = Case.objects.filter(pk=case.pk, version=case.version)
    if update_returning(case, rows.filter(kpi_settled_at__isnull=True), updates):
        return
    if not rows.select_for_update().filter(kpi_settled_at__isnull=False).exists():
        raise errors.conflict()
    kpi_rollups.unroll(case.pk)
    if not update_returning(case, rows, updates):
        raise errors.conflict()


def _record(
    case: Case,
    actor: Actor | None,
    type: EventType,
    *,
    note: str = "",
    is_public: bool = False,
    data: dict[str, Any] | None = None,
    check_version: bool = True,
) -> CaseEvent:
    """Append an event that changes no state (a note, a follow, a merge into this case).
    With `check_version` the case must still be the version the caller read."""
    rows = Case.objects.filter(pk=case.pk)
    if check_version:
        rows = rows.filter(version=case.version)
    if not update_returning(case, rows, {"version": F("version") + 1, "updated_at": clock.now()}):
        raise errors.conflict()
    return event_record(
        case=case, type=type, actor=actor, note=note, is_public=is_public, data=data
    )


def _store_facts(case: Case, facts: dict[str, Any]) -> None:
    """Write the evaluation facts the clocks produced; the row is ours (the CAS just won)."""
    changed = {name: value for name, value in facts.items() if getattr(case, name) != value}
    if changed:
        # The values as the database keeps them (a deadline computed in local time comes back
        # in UTC), as a response that read the case again would show them.
        update_returning(case, Case.objects.filter(pk=case.pk), changed)


def _next_number(at: datetime) -> str:
    statement = _number_lead(at)
    with rows.cursor(connection.alias) as cursor:
        cursor.execute(statement.sql, statement.params)
        row = cursor.fetchone()
    assert row is not None
    return _number(at, row[0])


def _number_lead(at: datetime) -> rows.Lead:
    """The day's next number as the statement that draws it, and the case number's SQL.

    One statement: the first number of the day inserts the row, later ones increment it under
    its row lock, so concurrent reports on one day get distinct numbers (PostgreSQL and
    SQLite ≥ 3.35 both have upserts with RETURNING). The SQL formats as `_number` does."""
    prefix = settings.CASE_NUMBER_PREFIX
    day = clock.local_date(at)
    table = CaseNumberSequence._meta.db_table
    return rows.Lead(
        sql=f"INSERT INTO {table} (prefix, day, last) VALUES (%s, %s, 1) "
        f"ON CONFLICT (prefix, day) DO UPDATE SET last = {table}.last + 1 RETURNING last",
        params=[prefix, day],
        field="number",
        value="(%s || CASE WHEN {lead} < 10000 THEN lpad({lead}::text, 4, '0') "
        "ELSE {lead}::text END)",
        value_params=[f"{prefix}{day:%Y%m%d}"],
    )


def _number(at: datetime, last: int) -> str:
    return f"{settings.CASE_NUMBER_PREFIX}{clock.local_date(at):%Y%m%d}{int(last):04d}"


@dataclass(frozen=True)
class _Place:
    grid: Region
    village: Region | None
    town: Region | None
    city: Region | None


def _locate(lat: float, lon: float) -> Region:
    return _place(lat, lon).grid


def _place(lat: float, lon: float) -> _Place:
    """The grid of a point and the regions above it (one query on the usual four levels)."""
    _check_point(lat, lon)
    return _place_of(lat, lon, locate_all(lat, lon))


def _place_and_config(lat: float, lon: float) -> tuple[_Place, sla.Config]:
    """`_place`, and the time-limit configuration, whose freshness probe rides along in the
    placement's statement."""
    _check_point(lat, lon)
    placement, fingerprint = locate_all_probing(lat, lon, sla.FINGERPRINT_PROBES)
    return _place_of(lat, lon, placement), sla.config(fingerprint)


def _check_point(lat: float, lon: float) -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise errors.invalid(Code.OUTSIDE_CITY, _("坐标无效"))


def _place_of(lat: float, lon: float, placement: Placement | None) -> _Place:
    if placement is not None:
        return _Place(placement.grid, placement.village, placement.town, placement.city)
    grid = locate(lat, lon)
    if grid is None:
        raise errors.invalid(Code.OUTSIDE_CITY, _("该位置不在本市网格范围内，请重新选择位置"))
    village = grid.parent
    town = village.parent if village else None
    return _Place(grid, village, town, town.parent if town else None)


_PUBLIC_SOURCES = {
    Source.RESIDENT: None,
    Source.VOLUNTEER: Role.VOLUNTEER,
    Source.GRID_WORKER: Role.GRID_WORKER,
}


def _report_source(by: User, source: Source | None) -> Source:
    roles = {Role(m.role) for m in memberships_of(by)}
    if source is None:
        if Role.GRID_WORKER in roles:
            return Source.GRID_WORKER
        return Source.VOLUNTEER if Role.VOLUNTEER in roles else Source.RESIDENT
    if source in _PUBLIC_SOURCES:
        needed = _PUBLIC_SOURCES[source]
        if needed is None or needed in roles or by.is_superuser:
            return source
    elif roles & CENTRE_ROLES or by.is_superuser:
        return source
    raise Forbidden(Code.SOURCE_NOT_ALLOWED, _("您不能以该来源登记案件"))


def _valid_category(category: Category) -> Category:
    if category.parent_id is None or not category.is_active:
        raise errors.invalid(Code.CATEGORY_INVALID, _("请选择有效的小类"))
    return category


# A 小类 by kind and code (unique): every report and reclassification reads it, so the query
# is built once (`Category.objects.filter(kind=…, full_code=…, parent__isnull=False)`).
_MINOR_CATEGORY = rows.Select(
    Category, "t0.kind = %s AND t0.full_code = %s AND t0.parent_id IS NOT NULL"
)


def category_by_code(kind: str, code: str) -> Category:
    """The 小类 of that kind and full code; `category_invalid` if there is none (an inactive
    one is returned: the services refuse it for new work)."""
    found = _MINOR_CATEGORY.all([kind, code])
    if not found:
        raise errors.invalid(Code.CATEGORY_INVALID, _("请选择有效的小类"))
    return found[0]


@dataclass(frozen=True)
class _ReportReads:
    category: Category | None  # None: no such 小类
    placement: Placement | None  # None: outside every grid (or the point is invalid)
    config: sla.Config


def _report_reads(by: User, category: CategoryCode, lat: float, lon: float) -> _ReportReads:
    """What a report reads before it writes, in one statement: the grid index's and the
    time-limit configuration's freshness, the regions of the point's grid, the category and
    the reporter's memberships (then `memberships_of(by)` has them)."""
    using = connection.alias
    riders = [_MINOR_CATEGORY.branch([category.kind, category.code], using)]
    memberships = memberships_branch(by, using)
    if memberships is not None:
        riders.append(memberships)
    placement: Placement | None = None
    if check_lat_lon(lat, lon):  # else the point is refused in its turn, after the category
        placement, fingerprint, found = locate_all_riding(lat, lon, sla.FINGERPRINT_PROBES, riders)
        cfg = sla.config(fingerprint)
    else:
        found, cfg = rows.union(using, riders), sla.config()
    if memberships is not None:
        memberships_loaded(by, found[1], using)
    categories = _MINOR_CATEGORY.instances(found[0], using)
    return _ReportReads(categories[0] if categories else None, placement, cfg)


# ---------------------------------------------------------------- intake


def case_report(
    *,
    by: User,
    category: Category | CategoryCode,
    description: str,
    lat: float,
    lon: float,
    address: str = "",
    urgency: Urgency = Urgency.NORMAL,
    photos: Sequence[PhotoUpload] = (),
    is_anonymous: bool = False,
    source: Source | None = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    draft: bool = False,
) -> Case:
    """A new case. Everything is checked and read first; then the day's number, the case, its
    intake clock and its first event are written, on PostgreSQL in one statement, which is
    atomic by itself: without photos no transaction block is opened for it (its BEGIN and
    COMMIT were two round trips of the request). Anything else writes in one transaction.

    `category` by its code (what a client sends) is read with the placement and the
    reporter's memberships, in one statement; the checks keep their order either way."""
    if isinstance(category, CategoryCode):
        reads = _report_reads(by, category, lat, lon)
        if reads.category is None:
            raise errors.invalid(Code.CATEGORY_INVALID, _("请选择有效的小类"))
        category = reads.category
    else:
        reads = None
    description = _require_text(description, Code.DESCRIPTION_REQUIRED, _("请填写问题描述"))
    _valid_category(category)
    checked = _check_photos(photos)
    if reads is not None:
        _check_point(lat, lon)
        place, cfg = _place_of(lat, lon, reads.placement), reads.config
    else:
        # One statement: the grid index's and the time-limit configuration's freshness, and
        # the regions of the grid; the configuration serves the version and the intake clock.
        place, cfg = _place_and_config(lat, lon)
    case_source = _report_source(by, source)
    now = clock.now()
    case = Case(
        number="",  # drawn with the insert (`_insert_report`)
        state=State.DRAFT if draft else State.REPORTED,
        source=case_source,
        category=category,
        description=description,
        urgency=urgency,
        lat=lat,
        lon=lon,
        address=address.strip(),
        grid=place.grid,
        village=place.village,
        town=place.town,
        city=place.city,
        reporter=by,
        reporter_name=reporter_name.strip() or by.name,
        reporter_phone=reporter_phone.strip(),
        is_anonymous=is_anonymous,
        reported_at=now,
        updated_at=now,
        sla_version_id=cfg.version_at(now),
    )
    clocks: list[CaseClock] = []
    if not draft:
        facts = sla.on_action(case, "report", at=now, by=by, fresh=True, cfg=cfg, unsaved=clocks)
        for name, value in facts.items():  # the row is not written yet: it is born with them
            setattr(case, name, value)
    event = events.event_new(
        case=case,
        type=EventType.DRAFTED if draft else EventType.REPORTED,
        actor=_public_actor(by),
        to_state=case.state,
        is_public=not draft,
        data={"source": case_source},
    )
    if checked:
        with transaction.atomic():
            _insert_report(case, [*clocks, event], now)
            events.publish(event)
            _store_photos(case, event, checked, PhotoKind.BEFORE, by)
    else:
        _insert_report(case, [*clocks, event], now)
        events.publish(event)  # in `commit` mode: after the commit (at once if it is done)
    return case


def _insert_report(case: Case, children: list[Any], now: datetime) -> None:
    """The day's number, the case, its intake clock and its first event: one statement on
    PostgreSQL; elsewhere the same in a transaction."""
    lead = _number_lead(now)
    last = rows.insert_family_led(case, children, lead)
    if last is not None:
        case.number = _number(now, last)
        return
    with transaction.atomic():
        case.number = _next_number(now)
        rows.insert_family(case, children)


@transaction.atomic
def case_submit_draft(*, case: Case, by: User) -> Case:
    action = ACTIONS["submit_draft"]
    if case.reporter_id != by.pk:
        raise errors.role_not_allowed(str(action.label))
    now = clock.now()
    updates = {"reported_at": now, "sla_version_id": sla.current_version_id(now)}
    _apply(case, action, _public_actor(by), updates=updates)
    return case


@transaction.atomic
def case_request_verification(*, case: Case, by: User, note: str = "") -> Case:
    action = ACTIONS["request_verification"]
    _apply(case, action, _acting(by, case, action), note=note.strip(), is_public=False)
    return case


@transaction.atomic
def case_confirm_on_site(
    *, case: Case, by: User, exists: bool, note: str = "", photos: Sequence[PhotoUpload] = ()
) -> Case:
    """A grid worker's 核实 on the spot; the centre then files or rejects."""
    action = ACTIONS["confirm_on_site"]
    actor = _acting(by, case, action)
    checked = _check_photos(photos)
    _apply(
        case,
        action,
        actor,
        note=note.strip(),
        is_public=False,
        data={"exists": exists},
        photos=checked,
    )
    return case


@transaction.atomic
def case_file(
    *,
    case: Case,
    by: User,
    category: Category | None = None,
    urgency: Urgency | None = None,
    note: str = "",
) -> Case:
    action = ACTIONS["file"]
    actor = _acting(by, case, action)
    category = _valid_category(category) if category else case.category
    urgency = urgency or Urgency(case.urgency)
    updates: dict[str, Any] = {"category": category, "urgency": urgency, "filed_at": clock.now()}
    data = {"category": category.full_code, "urgency": urgency}
    # Filing and the automatic dispatch share the clocks and the time-limit configuration.
    carry = sla.Carry()
    _apply(case, action, actor, updates=updates, note=note.strip(), data=data, carry=carry)
    _auto_route(case, carry=carry)
    return case


@transaction.atomic
def case_reject(*, case: Case, by: User, reason: RejectReason, note: str = "") -> Case:
    action = ACTIONS["reject"]
    actor = _acting(by, case, action)
    note = _require_text(note, Code.NOTE_REQUIRED, _("请填写不予受理的说明"))
    updates = {"assigned_org": None, "supervision": ""}
    _apply(case, action, actor, reason=reason, note=note, updates=updates)
    _lift_all(case, by, clock.now())
    case.assists.filter(ended_at__isnull=True).update(ended_at=clock.now())
    return case


@transaction.atomic
def case_reinstate(*, case: Case, by: User, note: str = "") -> Case:
    action = ACTIONS["reinstate"]
    actor = _acting(by, case, action)
    rejected = case.events.filter(type=EventType.REJECTED).order_by("-seq").first()
    window = timedelta(days=settings.CASE_REINSTATE_DAYS)
    if rejected is None or clock.now() - rejected.at > window:
        raise errors.invalid(
            Code.REOPEN_WINDOW_PASSED,
            _("不予受理超过%(days)d天，不能恢复") % {"days": settings.CASE_REINSTATE_DAYS},
        )
    _apply(case, action, actor, note=note.strip())
    return case


@transaction.atomic
def case_merge(*, case: Case, into: Case, by: User, note: str = "") -> Case:
    action = ACTIONS["merge"]
    actor = _acting(by, case, action)
    if into.pk == case.pk or not into.is_open or into.parent_id is not None:
        raise errors.invalid(Code.MERGE_TARGET_INVALID, _("只能合并到另一个未结案的主案件"))
    _apply(
        case,
        action,
        actor,
        updates={"parent": into},
        reason=RejectReason.DUPLICATE,
        note=note.strip(),
        data={"into": into.number},
    )
    _merge_followers(case, into, actor)
    return case


def _merge_followers(case: Case, into: Case, actor: Actor) -> None:
    """The reporter and the followers of a duplicate follow the parent from now on."""
    users = set(case.followers.values_list("user_id", flat=True))
    if case.reporter_id is not None:
        users.add(case.reporter_id)
    users -= set(into.followers.values_list("user_id", flat=True)) | {into.reporter_id}
    now = clock.now()
    CaseFollower.objects.bulk_create(
        CaseFollower(case=into, user_id=user, via=FollowVia.MERGED, created_at=now)
        for user in sorted(users)
    )
    data = {"from": case.number, "followers": len(users)}
    _record(into, actor, EventType.MERGED_IN, is_public=True, data=data, check_version=False)


# ---------------------------------------------------------------- dispatch and disposal


@transaction.atomic
def case_dispatch(*, case: Case, to: Organisation, by: User, note: str = "") -> Case:
    action = ACTIONS["dispatch"]
    actor = _acting(by, case, action)
    if not routing.can_take(to, case):
        raise errors.invalid(Code.TARGET_INVALID, _("该单位不能承办此案件"))
    _dispatch(case, to, actor, note=note.strip(), route=routing.route_for(case))
    return case


def _dispatch(
    case: Case,
    to: Organisation,
    actor: Actor | None,
    *,
    note: str = "",
    route: routing.Route | None,
    auto: bool = False,
    carry: sla.Carry | None = None,
) -> None:
    """Hand the case to a lead unit; the routing suggestion of the moment is kept with it."""
    updates = {"assigned_org": to, "dispatch_count": F("dispatch_count") + 1}
    data: dict[str, Any] = {
        "to": to.code,
        "suggested": route.organisation.code if route else None,
    }
    if auto and route is not None:
        data.update(auto=True, rule=route.rule.pk)
    _apply(case, ACTIONS["dispatch"], actor, updates=updates, note=note, data=data, carry=carry)
    now = clock.now()
    Dispatch.objects.create(
        case=case,
        organisation=to,
        by=actor.user if actor else None,
        by_role=actor.role if actor else "",
        at=now,
        is_auto=auto,
        rule=route.rule if route else None,
        suggested=route.organisation if route else None,
    )
    # The new lead is no longer an assisting unit.
    case.assists.filter(organisation=to, ended_at__isnull=True).update(ended_at=now)


def _auto_route(case: Case, *, exclude: int | None = None, carry: sla.Carry | None = None) -> None:
    """Dispatch at once when the best rule says so (never back to the unit that returned it)."""
    route = routing.route_for(case)
    if route is not None and route.auto and route.organisation.pk != exclude:
        _dispatch(case, route.organisation, None, route=route, auto=True, carry=carry)


def _settle_dispatch(case: Case, outcome: DispatchOutcome) -> None:
    case.dispatches.filter(outcome=DispatchOutcome.PENDING).update(
        outcome=outcome, outcome_at=clock.now()
    )


@transaction.atomic
def case_recall(*, case: Case, by: User, note: str) -> Case:
    """撤回派遣: the centre takes a case back from a unit that has not claimed it yet."""
    action = ACTIONS["recall"]
    actor = _acting(by, case, action)
    note = _require_text(note, Code.REASON_REQUIRED, _("撤回派遣必须说明理由"))
    _recall(case, actor, note=note)
    return case


def _recall(case: Case, actor: Actor, *, note: str = "", reason: str = "") -> None:
    org = case.assigned_org
    data = {"from": org.code if org else None}
    updates = {"assigned_org": None}
    _apply(
        case,
        ACTIONS["recall"],
        actor,
        updates=updates,
        note=note,
        reason=reason,
        is_public=False,
        data=data,
    )
    _settle_dispatch(case, DispatchOutcome.RECALLED)


@transaction.atomic
def case_return(*, case: Case, by: User, reason: ReturnReason, note: str) -> Case:
    action = ACTIONS["return"]
    actor = _acting(by, case, action)
    note = _require_text(note, Code.REASON_REQUIRED, _("退回必须说明理由"))
    updates = {"assigned_org": None, "return_count": F("return_count") + 1}
    _apply(case, action, actor, updates=updates, reason=reason, note=note)
    _settle_dispatch(case, DispatchOutcome.RETURNED)
    return case


@transaction.atomic
def case_claim(*, case: Case, by: User, note: str = "") -> Case:
    action = ACTIONS["claim"]
    _apply(case, action, _acting(by, case, action), note=note.strip())
    _settle_dispatch(case, DispatchOutcome.CLAIMED)
    return case


@transaction.atomic
def case_request_extension(*, case: Case, by: User, until: datetime, note: str) -> Case:
    action = ACTIONS["request_extension"]
    actor = _acting(by, case, action)
    note = _require_text(note, Code.REASON_REQUIRED, _("申请延期必须说明理由"))
    if until <= clock.now() or (case.due_at and until <= case.due_at):
        raise errors.invalid(Code.DEADLINE_INVALID, _("延期后的期限必须晚于当前期限"))
    _apply(case, action, actor, note=note, is_public=False, data={"until": until.isoformat()})
    return case


@transaction.atomic
def case_decide_extension(*, case: Case, by: User, approve: bool, note: str = "") -> Case:
    action = ACTIONS["approve_extension" if approve else "deny_extension"]
    actor = _acting(by, case, action)
    if approve:
        request = case.events.filter(type=EventType.EXTENSION_REQUESTED).order_by("-seq")[0]
        until = datetime.fromisoformat(request.data["until"])
        data = {"until": request.data["until"]}
    else:
        note = _require_text(note, Code.REASON_REQUIRED, _("驳回延期必须说明理由"))
        data = {}
    _apply(case, action, actor, note=note.strip(), is_public=False, data=data)
    if approve:
        _store_facts(case, sla.extend(case, until=until, at=clock.now()))
    return case


@transaction.atomic
def case_request_suspension(*, case: Case, by: User, note: str) -> Case:
    action = ACTIONS["request_suspension"]
    actor = _acting(by, case, action)
    note = _require_text(note, Code.REASON_REQUIRED, _("申请缓办必须说明理由"))
    _apply(case, action, actor, note=note, is_public=False)
    return case


@transaction.atomic
def case_decide_suspension(*, case: Case, by: User, approve: bool, note: str = "") -> Case:
    action = ACTIONS["approve_suspension" if approve else "deny_suspension"]
    actor = _acting(by, case, action)
    if not approve:
        note = _require_text(note, Code.REASON_REQUIRED, _("驳回缓办必须说明理由"))
    _apply(case, action, actor, note=note.strip())
    return case


@transaction.atomic
def case_resume(*, case: Case, by: User, note: str = "") -> Case:
    action = ACTIONS["resume"]
    _apply(case, action, _acting(by, case, action), note=note.strip())
    return case


@transaction.atomic
def case_submit(*, case: Case, by: User, photos: Sequence[PhotoUpload], note: str = "") -> Case:
    """处置反馈: the unit reports the result with at least one after-photo."""
    action = ACTIONS["submit"]
    actor = _acting(by, case, action)
    checked = _check_photos(photos, minimum=1)
    _apply(
        case,
        action,
        actor,
        updates={"checked_at": None},
        note=note.strip(),
        photos=checked,
        photo_kind=PhotoKind.AFTER,
    )
    return case


@transaction.atomic
def case_check(
    *,
    case: Case,
    by: User,
    passed: bool,
    note: str = "",
    photos: Sequence[PhotoUpload] = (),
) -> Case:
    """核查: passing marks the submission verified; failing sends the case back for rework."""
    action = ACTIONS["check_pass" if passed else "check_fail"]
    actor = _acting(by, case, action)
    checked = _check_photos(photos)
    if passed:
        updates: dict[str, Any] = {"checked_at": clock.now()}
    else:
        note = _require_text(note, Code.REASON_REQUIRED, _("核查不通过必须说明原因"))
        updates = {"checked_at": None, "rework_count": F("rework_count") + 1}
    _apply(case, action, actor, updates=updates, note=note.strip(), photos=checked)
    return case


@transaction.atomic
def case_close(
    *, case: Case, by: User, reason: ClosureReason = ClosureReason.FIXED, note: str = ""
) -> Case:
    action = ACTIONS["close"]
    actor = _acting(by, case, action)
    if case.checked_at is None:
        raise DomainError(Code.VERIFICATION_REQUIRED, _("核查通过后才能结案"), status=409)
    now = clock.now()
    updates = {
        "closed_at": now,
        "closure_reason": reason,
        "supervision": "",
        **sla.closing_facts(case),
    }
    _apply(case, action, actor, updates=updates, reason=reason, note=note.strip())
    _lift_all(case, by, now)
    case.assists.filter(ended_at__isnull=True).update(ended_at=now)
    return case


@transaction.atomic
def case_reopen(*, case: Case, by: User, note: str) -> Case:
    """The reporter (within the reopen window) or the centre sends a closed case back."""
    action = ACTIONS["reopen"]
    _require_state(case, action)
    if case.reporter_id == by.pk and not _has_action_role(by, case, action):
        window = timedelta(days=settings.CASE_REOPEN_DAYS)
        if case.closed_at is None or clock.now() - case.closed_at > window:
            raise errors.invalid(
                Code.REOPEN_WINDOW_PASSED,
                _("结案超过%(days)d天，不能重新打开") % {"days": settings.CASE_REOPEN_DAYS},
            )
        actor = _public_actor(by)
    else:
        actor = _acting(by, case, action)
    note = _require_text(note, Code.REASON_REQUIRED, _("重新打开必须说明原因"))
    ended = _cycle_ended(case)
    # The case starts its next cycle: what the ended one was evaluated by is kept in `ended`
    # (its rating too), so the periods it counted in keep their numbers (docs/kpis.md).
    updates = {
        "reopen_count": F("reopen_count") + 1,
        "checked_at": None,
        "closed_at": None,
        "closure_reason": "",
        "assigned_org": None,
        "rework_count": 0,
        "satisfaction": "",
        "rated_at": None,
    }
    event = _apply(case, action, actor, updates=updates, note=note)
    # Written after the compare-and-swap, which matched the row `ended` was read from.
    ended.reopened_at = event.at
    ended.save(force_insert=True)
    return case


def _cycle_ended(case: Case) -> CaseCycle:
    """The closed cycle a reopen ends, with the facts the indicators read."""
    facts = {name: getattr(case, name) for name in CYCLE_FACTS}
    return CaseCycle(case=case, cycle=case.reopen_count + 1, **facts)


def _has_action_role(by: User, case: Case, action: Action) -> bool:
    try:
        _acting(by, case, action)
    except Forbidden:
        return False
    return True


# ---------------------------------------------------------------- short path and notes


@transaction.atomic
def case_resolve_on_spot(
    *,
    by: User,
    category: Category,
    description: str,
    lat: float,
    lon: float,
    before: Sequence[PhotoUpload],
    after: Sequence[PhotoUpload],
    address: str = "",
    note: str = "",
) -> Case:
    """自处置: a grid worker fixes a small problem at once; the record is still complete."""
    if not before:
        raise errors.invalid(Code.PHOTOS_REQUIRED, _("请至少上传1张处置前照片"))
    checked_after = _check_photos(after, minimum=1)
    grid = _locate(lat, lon)
    membership = next(
        (m for m in memberships_of(by) if m.role == Role.GRID_WORKER and m.region.contains(grid)),
        None,
    )
    if membership is None:
        raise errors.role_not_allowed(_("自处置（仅限本人负责的网格）"))
    case = case_report(
        by=by,
        category=category,
        description=description,
        lat=lat,
        lon=lon,
        address=address,
        photos=before,
        source=Source.GRID_WORKER,
    )
    actor = Actor(by, Role.GRID_WORKER, membership.organisation, membership.region)
    now = clock.now()
    steps: list[tuple[EventType, State | None, dict[str, Any]]] = [
        (EventType.FILED, State.FILED, {"filed_at": now, "resolved_on_spot": True}),
        (EventType.SUBMITTED, State.SUBMITTED, {"assigned_org": membership.organisation}),
        (EventType.CHECK_PASSED, None, {"checked_at": now}),
        (
            EventType.CLOSED,
            State.CLOSED,
            {"closed_at": now, "closure_reason": ClosureReason.FIXED},
        ),
    ]
    for event_type, target, updates in steps:
        _record_on_spot_step(case, actor, event_type, target, updates, note, checked_after)
    return case


_ON_SPOT_CLOCKS = {
    EventType.FILED: "file",
    EventType.SUBMITTED: "submit",
    EventType.CHECK_PASSED: "check_pass",
}


def _record_on_spot_step(
    case: Case,
    actor: Actor,
    event_type: EventType,
    target: State | None,
    updates: dict[str, Any],
    note: str,
    after: list[_CheckedPhoto],
) -> None:
    from_state = case.state
    now = clock.now()
    if event_type == EventType.CLOSED:
        updates = {**updates, **sla.closing_facts(case)}
    Case.objects.filter(pk=case.pk).update(
        state=target or from_state, version=F("version") + 1, updated_at=now, **updates
    )
    case.refresh_from_db()
    if event_type in _ON_SPOT_CLOCKS:
        _store_facts(case, sla.on_action(case, _ON_SPOT_CLOCKS[event_type], at=now, by=actor.user))
    event = event_record(
        case=case,
        type=event_type,
        actor=actor,
        from_state=from_state,
        to_state=target or "",
        reason=ClosureReason.FIXED if event_type == EventType.CLOSED else "",
        note=note.strip() or _("网格员现场自处置"),
        data={"on_spot": True},
    )
    if event_type == EventType.SUBMITTED:
        _store_photos(case, event, after, PhotoKind.AFTER, actor.user)


@transaction.atomic
def case_add_note(*, case: Case, by: User, text: str, is_public: bool) -> CaseEvent:
    """An internal note (staff only) or a public update (the reporter sees it)."""
    text = _require_text(text, Code.NOTE_REQUIRED, _("请填写内容"))
    is_reporter_update = case.reporter_id == by.pk and is_public
    actor = _public_actor(by) if is_reporter_update else _note_actor(by, case)
    type = EventType.PUBLIC_UPDATE if is_public else EventType.NOTE
    return _record(case, actor, type, note=text, is_public=is_public)


def _note_actor(by: User, case: Case, what: str = "") -> Actor:
    """Staff covering the case, and assisting (会办) units, may add notes and evidence."""
    for membership in memberships_of(by):
        role = Role(membership.role)
        if role in {Role.RESIDENT, Role.VOLUNTEER}:
            continue
        if membership_covers(membership, case) or membership_assists(membership, case):
            return Actor(by, role, membership.organisation, membership.region)
    raise errors.role_not_allowed(what or _("备注"))


@transaction.atomic
def case_add_evidence(
    *, case: Case, by: User, photos: Sequence[PhotoUpload], note: str = ""
) -> CaseEvent:
    """补充照片: staff on the case, including assisting units, add evidence photos."""
    actor = _note_actor(by, case, str(_("补充照片")))
    checked = _check_photos(photos, minimum=1)
    event = _record(case, actor, EventType.PHOTOS_ADDED, note=note.strip(), is_public=False)
    _store_photos(case, event, checked, PhotoKind.EVIDENCE, by)
    return event


# ---------------------------------------------------------------- supervision

SUPERVISION_ROLES = {
    SupervisionKind.URGE: frozenset(
        {Role.INTAKE_CLERK, Role.DISPATCHER, Role.SHIFT_LEAD, Role.EVALUATOR, Role.ADMINISTRATOR}
    ),
    SupervisionKind.SUPERVISE: frozenset({Role.SHIFT_LEAD, Role.EVALUATOR, Role.ADMINISTRATOR}),
    SupervisionKind.LISTED: frozenset({Role.EVALUATOR, Role.ADMINISTRATOR}),
}


@transaction.atomic
def case_supervise(
    *,
    case: Case,
    by: User,
    kind: SupervisionKind,
    note: str,
    due_at: datetime | None = None,
) -> Supervision:
    """催办 / 督办 / 挂牌督办: the strongest active one is the mark shown on the case."""
    action = ACTIONS["supervise"]
    actor = _acting(by, case, action)
    label = str(SupervisionKind(kind).label)
    if actor.role not in SUPERVISION_ROLES[kind] and not by.is_superuser:
        raise errors.role_not_allowed(label)
    note = _require_text(note, Code.NOTE_REQUIRED, _("请填写督办要求"))
    now = clock.now()
    if due_at is not None and due_at <= now:
        raise errors.invalid(Code.DEADLINE_INVALID, _("督办期限必须晚于当前时间"))
    current = SUPERVISION_RANK.get(SupervisionKind(case.supervision), 0) if case.supervision else 0
    mark = kind if SUPERVISION_RANK[kind] >= current else case.supervision
    data = {"kind": kind, "due_at": due_at.isoformat() if due_at else None}
    # 挂牌督办 is public (the case is listed); reminders and supervision are internal.
    _apply(
        case,
        action,
        actor,
        updates={"supervision": mark},
        note=note,
        data=data,
        is_public=kind == SupervisionKind.LISTED,
    )
    return Supervision.objects.create(
        case=case,
        kind=kind,
        issued_by=by,
        issuer_role=actor.role,
        issuer_org=actor.organisation,
        issued_at=now,
        due_at=due_at,
        note=note,
    )


@transaction.atomic
def case_supervision_lift(*, case: Case, by: User, note: str = "") -> Case:
    """Lift every active supervision of the case (closing a case lifts them too)."""
    action = ACTIONS["lift_supervision"]
    actor = _acting(by, case, action)
    active = list(case.supervisions.filter(lifted_at__isnull=True).values_list("kind", flat=True))
    if not active:
        raise errors.invalid(Code.NO_SUPERVISION, _("该案件当前没有督办"))
    _apply(
        case,
        action,
        actor,
        updates={"supervision": ""},
        note=note.strip(),
        data={"kinds": active},
        is_public=SupervisionKind.LISTED in active,
    )
    _lift_all(case, by, clock.now())
    return case


def _lift_all(case: Case, by: User | None, at: datetime) -> None:
    case.supervisions.filter(lifted_at__isnull=True).update(lifted_at=at, lifted_by=by)


# ---------------------------------------------------------------- routing changes and 会办


@transaction.atomic
def case_reclassify(
    *,
    case: Case,
    by: User,
    category: Category | None = None,
    urgency: Urgency | None = None,
    lat: float | None = None,
    lon: float | None = None,
    address: str | None = None,
    note: str = "",
) -> Case:
    """Change the category, urgency or location before a unit claims the case. Running clocks
    take the new limits; a dispatched case goes to the unit the rules now name."""
    action = ACTIONS["reclassify"]
    actor = _acting(by, case, action)
    updates, changes = _reclassification(case, actor, category, urgency, lat, lon, address)
    if not changes:
        raise errors.invalid(Code.NOTHING_CHANGED, _("没有需要修改的内容"))
    _apply(case, action, actor, updates=updates, note=note.strip(), is_public=False, data=changes)
    _reroute(case, actor)
    return case


def _reclassification(
    case: Case,
    actor: Actor,
    category: Category | None,
    urgency: Urgency | None,
    lat: float | None,
    lon: float | None,
    address: str | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    updates: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    if category is not None and category.pk != case.category_id:
        _valid_category(category)
        updates["category"] = category
        changes["category"] = [case.category.full_code, category.full_code]
    if urgency is not None and urgency != case.urgency:
        updates["urgency"] = urgency
        changes["urgency"] = [case.urgency, urgency]
    if (lat is None) != (lon is None):
        raise errors.invalid(Code.OUTSIDE_CITY, _("请同时提供纬度和经度"))
    if lat is not None and lon is not None and (lat, lon) != (case.lat, case.lon):
        updates.update(_relocation(case, actor, lat, lon))
        changes["location"] = [[case.lat, case.lon], [lat, lon]]
        changes["grid"] = [case.grid.code if case.grid else None, updates["grid"].code]
    if address is not None and address.strip() != case.address:
        updates["address"] = address.strip()
        changes["address"] = [case.address, address.strip()]
    return updates, changes


def _relocation(case: Case, actor: Actor, lat: float, lon: float) -> dict[str, Any]:
    place = _place(lat, lon)
    if actor.region is not None and not actor.region.contains(place.grid):
        raise errors.invalid(Code.OUTSIDE_JURISDICTION, _("新位置不在您的管辖范围内"))
    return {
        "lat": lat,
        "lon": lon,
        "grid": place.grid,
        "village": place.village,
        "town": place.town,
        "city": place.city,
    }


def _reroute(case: Case, actor: Actor) -> None:
    if case.state == State.DISPATCHED:
        route = routing.route_for(case)
        if route is None or route.organisation.pk == case.assigned_org_id:
            return
        _recall(case, actor, reason="rerouted")
    if case.state in (State.FILED, State.RETURNED):
        _auto_route(case, exclude=_last_returned_by(case))


def _last_returned_by(case: Case) -> int | None:
    last = case.dispatches.filter(outcome=DispatchOutcome.RETURNED).order_by("-at", "-id").first()
    return last.organisation_id if last else None


@transaction.atomic
def case_assist_add(*, case: Case, to: Organisation, by: User, note: str = "") -> CaseAssist:
    """会办: an assisting unit joins the lead unit on the case."""
    action = ACTIONS["add_assist"]
    actor = _acting(by, case, action)
    if not routing.can_take(to, case) or to.pk == case.assigned_org_id:
        raise errors.invalid(Code.ASSIST_INVALID, _("该单位不能作为此案件的会办单位"))
    if case.assists.filter(organisation=to, ended_at__isnull=True).exists():
        raise errors.invalid(Code.ASSIST_INVALID, _("该单位已在会办此案件"))
    note = note.strip()
    _apply(case, action, actor, note=note, is_public=False, data={"org": to.code})
    return CaseAssist.objects.create(
        case=case, organisation=to, added_by=by, added_at=clock.now(), note=note
    )


@transaction.atomic
def case_assist_end(*, case: Case, organisation: Organisation, by: User, note: str = "") -> Case:
    action = ACTIONS["end_assist"]
    actor = _acting(by, case, action)
    active = case.assists.filter(organisation=organisation, ended_at__isnull=True).first()
    if active is None:
        raise errors.invalid(Code.ASSIST_INVALID, _("该单位没有在会办此案件"))
    data = {"org": organisation.code}
    _apply(case, action, actor, note=note.strip(), is_public=False, data=data)
    CaseAssist.objects.filter(pk=active.pk).update(ended_at=clock.now())
    return case


# ---------------------------------------------------------------- the public: follow and rate


@transaction.atomic
def case_follow(*, case: Case, by: User) -> CaseFollower:
    """我也遇到: follow an open case instead of reporting it again."""
    if case.state in CLOSED_STATES or case.state == State.DRAFT:
        raise errors.invalid(Code.FOLLOW_INVALID, _("只能关注未办结的案件"))
    if case.reporter_id == by.pk:
        raise errors.invalid(Code.FOLLOW_INVALID, _("这是您上报的案件，无需关注"))
    if case.followers.filter(user=by).exists():
        raise errors.invalid(Code.ALREADY_FOLLOWING, _("您已关注该案件"))
    _record(case, _public_actor(by), EventType.FOLLOWED, is_public=True)
    return CaseFollower.objects.create(
        case=case, user=by, via=FollowVia.ME_TOO, created_at=clock.now()
    )


@transaction.atomic
def case_unfollow(*, case: Case, by: User) -> Case:
    row = case.followers.filter(user=by).first()
    if row is None:
        raise errors.invalid(Code.NOT_FOLLOWING, _("您没有关注该案件"))
    _record(case, _public_actor(by), EventType.UNFOLLOWED, is_public=False)
    row.delete()
    return case


def rate_days() -> int:
    return int(getattr(settings, "CASE_RATE_DAYS", settings.CASE_REOPEN_DAYS))


@transaction.atomic
def case_rate(*, case: Case, by: User, satisfaction: Satisfaction, note: str = "") -> Case:
    """满意/基本满意/不满意: the reporter within the window, or the centre's 12345 回访."""
    action = ACTIONS["rate"]
    _require_state(case, action)
    if case.reporter_id == by.pk and not _has_action_role(by, case, action):
        window = timedelta(days=rate_days())
        if case.closed_at is None or clock.now() - case.closed_at > window:
            raise errors.invalid(
                Code.RATE_WINDOW_PASSED, _("结案超过%(days)d天，不能评价") % {"days": rate_days()}
            )
        actor, via = _public_actor(by), "reporter"
    else:
        actor, via = _acting(by, case, action), "callback"
    if case.rated_at and case.closed_at and case.rated_at >= case.closed_at:
        raise errors.invalid(Code.ALREADY_RATED, _("本次办理结果已评价"))
    updates = {"satisfaction": satisfaction, "rated_at": clock.now()}
    data = {"satisfaction": satisfaction, "via": via}
    _apply(case, action, actor, updates=updates, note=note.strip(), data=data)
    return case
