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
from django.db import transaction
from django.db.models import F

from civicloop.accounts.models import (
    CENTRE_ROLES,
    Organisation,
    OrgKind,
    Role,
    User,
)
from civicloop.accounts.selectors import Actor, memberships_of
from civicloop.cases import errors
from civicloop.cases.errors import Code
from civicloop.cases.events import event_record
from civicloop.cases.models import (
    Case,
    CaseEvent,
    CaseNumberSequence,
    Category,
    ClosureReason,
    EventType,
    LimitUnit,
    Photo,
    PhotoKind,
    RejectReason,
    ReturnReason,
    Source,
    State,
    Urgency,
)
from civicloop.cases.selectors import membership_covers, region_covers
from civicloop.cases.workflow import ACTIONS, Action
from civicloop.lib import clock, photos
from civicloop.lib.errors import DomainError, Forbidden
from civicloop.regions.lookup import locate
from civicloop.regions.models import Region


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
        raise errors.invalid(Code.PHOTOS_REQUIRED, f"请至少上传{minimum}张照片")
    if len(uploads) > settings.PHOTO_MAX_COUNT:
        raise errors.invalid(Code.TOO_MANY_PHOTOS, f"每次最多上传{settings.PHOTO_MAX_COUNT}张照片")
    checked = []
    for upload in uploads:
        try:
            info = photos.inspect_photo(upload.data, max_bytes=settings.PHOTO_MAX_BYTES)
        except photos.PhotoTooLarge as e:
            raise DomainError(e.code, e.message, status=413, photo=upload.name) from e
        except photos.PhotoError as e:
            raise DomainError(e.code, e.message, status=415, photo=upload.name) from e
        checked.append(_CheckedPhoto(upload, info))
    return checked


def _store_photos(
    case: Case, event: CaseEvent, checked: list[_CheckedPhoto], kind: PhotoKind, by: User
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
    actor: Actor,
    *,
    updates: dict[str, Any] | None = None,
    reason: str = "",
    note: str = "",
    is_public: bool = True,
    data: dict[str, Any] | None = None,
    photos: list[_CheckedPhoto] | None = None,
    photo_kind: PhotoKind = PhotoKind.EVIDENCE,
) -> CaseEvent:
    """Move the case (compare-and-swap on its version) and append the event."""
    _require_state(case, action)
    from_state = case.state
    target = action.target or State(case.state)
    changed = Case.objects.filter(pk=case.pk, version=case.version).update(
        state=target, version=F("version") + 1, updated_at=clock.now(), **(updates or {})
    )
    if changed != 1:
        raise errors.conflict()
    case.refresh_from_db()
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
        _store_photos(case, event, photos, photo_kind, actor.user)
    return event


def _next_number(at: datetime) -> str:
    prefix = settings.CASE_NUMBER_PREFIX
    day = clock.local_date(at)
    CaseNumberSequence.objects.get_or_create(prefix=prefix, day=day)
    # The UPDATE takes the row lock, so concurrent reports on one day get distinct numbers.
    CaseNumberSequence.objects.filter(prefix=prefix, day=day).update(last=F("last") + 1)
    last = CaseNumberSequence.objects.get(prefix=prefix, day=day).last
    return f"{prefix}{day:%Y%m%d}{last:04d}"


def _locate(lat: float, lon: float) -> Region:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise errors.invalid(Code.OUTSIDE_CITY, "坐标无效")
    grid = locate(lat, lon)
    if grid is None:
        raise errors.invalid(Code.OUTSIDE_CITY, "该位置不在本市网格范围内，请重新选择位置")
    return grid


def _due_at(category: Category, urgency: str, start: datetime) -> datetime | None:
    """The disposal deadline from the category's limit.

    Counts calendar hours/days for now; the working-calendar SLA engine replaces this.
    """
    if urgency == Urgency.URGENT:
        value, unit = category.limit_urgent, category.limit_urgent_unit
    else:
        value, unit = category.limit_normal, category.limit_normal_unit
    if not value:
        return None
    if unit == LimitUnit.WORKING_DAYS:
        return start + timedelta(days=value)
    return start + timedelta(hours=value)


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
    raise Forbidden(Code.SOURCE_NOT_ALLOWED, "您不能以该来源登记案件")


def _valid_category(category: Category) -> Category:
    if category.parent_id is None or not category.is_active:
        raise errors.invalid(Code.CATEGORY_INVALID, "请选择有效的小类")
    return category


# ---------------------------------------------------------------- intake


@transaction.atomic
def case_report(
    *,
    by: User,
    category: Category,
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
    description = _require_text(description, Code.DESCRIPTION_REQUIRED, "请填写问题描述")
    _valid_category(category)
    checked = _check_photos(photos)
    grid = _locate(lat, lon)
    case_source = _report_source(by, source)
    village = grid.parent
    town = village.parent if village else None
    now = clock.now()
    case = Case.objects.create(
        number=_next_number(now),
        state=State.DRAFT if draft else State.REPORTED,
        source=case_source,
        category=category,
        description=description,
        urgency=urgency,
        lat=lat,
        lon=lon,
        address=address.strip(),
        grid=grid,
        village=village,
        town=town,
        city=town.parent if town else None,
        reporter=by,
        reporter_name=reporter_name.strip() or by.name,
        reporter_phone=reporter_phone.strip(),
        is_anonymous=is_anonymous,
        reported_at=now,
        updated_at=now,
    )
    event = event_record(
        case=case,
        type=EventType.DRAFTED if draft else EventType.REPORTED,
        actor=_public_actor(by),
        to_state=case.state,
        is_public=not draft,
        data={"source": case_source},
    )
    if checked:
        _store_photos(case, event, checked, PhotoKind.BEFORE, by)
    return case


@transaction.atomic
def case_submit_draft(*, case: Case, by: User) -> Case:
    action = ACTIONS["submit_draft"]
    if case.reporter_id != by.pk:
        raise errors.role_not_allowed(str(action.label))
    now = clock.now()
    _apply(case, action, _public_actor(by), updates={"reported_at": now})
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
    now = clock.now()
    updates: dict[str, Any] = {
        "category": category,
        "urgency": urgency,
        "filed_at": now,
        "due_at": _due_at(category, urgency, now),
    }
    data = {"category": category.full_code, "urgency": urgency}
    _apply(case, action, actor, updates=updates, note=note.strip(), data=data)
    return case


@transaction.atomic
def case_reject(*, case: Case, by: User, reason: RejectReason, note: str = "") -> Case:
    action = ACTIONS["reject"]
    actor = _acting(by, case, action)
    note = _require_text(note, Code.NOTE_REQUIRED, "请填写不予受理的说明")
    _apply(case, action, actor, reason=reason, note=note, updates={"assigned_org": None})
    return case


@transaction.atomic
def case_reinstate(*, case: Case, by: User, note: str = "") -> Case:
    action = ACTIONS["reinstate"]
    actor = _acting(by, case, action)
    rejected = case.events.filter(type=EventType.REJECTED).order_by("-seq").first()
    window = timedelta(days=settings.CASE_REINSTATE_DAYS)
    if rejected is None or clock.now() - rejected.at > window:
        raise errors.invalid(
            Code.REOPEN_WINDOW_PASSED, f"不予受理超过{settings.CASE_REINSTATE_DAYS}天，不能恢复"
        )
    _apply(case, action, actor, note=note.strip())
    return case


@transaction.atomic
def case_merge(*, case: Case, into: Case, by: User, note: str = "") -> Case:
    action = ACTIONS["merge"]
    actor = _acting(by, case, action)
    if into.pk == case.pk or not into.is_open or into.parent_id is not None:
        raise errors.invalid(Code.MERGE_TARGET_INVALID, "只能合并到另一个未结案的主案件")
    _apply(
        case,
        action,
        actor,
        updates={"parent": into},
        reason=RejectReason.DUPLICATE,
        note=note.strip(),
        data={"into": into.number},
    )
    return case


# ---------------------------------------------------------------- dispatch and disposal

_DISPATCHABLE = {OrgKind.DEPARTMENT, OrgKind.PLATFORM, OrgKind.COMMUNITY}


@transaction.atomic
def case_dispatch(*, case: Case, to: Organisation, by: User, note: str = "") -> Case:
    action = ACTIONS["dispatch"]
    actor = _acting(by, case, action)
    if to.kind not in _DISPATCHABLE or not to.is_active or not region_covers(to.region, case):
        raise errors.invalid(Code.TARGET_INVALID, "该单位不能承办此案件")
    updates = {"assigned_org": to, "dispatch_count": F("dispatch_count") + 1}
    _apply(case, action, actor, updates=updates, note=note.strip(), data={"to": to.code})
    return case


@transaction.atomic
def case_return(*, case: Case, by: User, reason: ReturnReason, note: str) -> Case:
    action = ACTIONS["return"]
    actor = _acting(by, case, action)
    note = _require_text(note, Code.REASON_REQUIRED, "退回必须说明理由")
    updates = {"assigned_org": None, "return_count": F("return_count") + 1}
    _apply(case, action, actor, updates=updates, reason=reason, note=note)
    return case


@transaction.atomic
def case_claim(*, case: Case, by: User, note: str = "") -> Case:
    action = ACTIONS["claim"]
    _apply(case, action, _acting(by, case, action), note=note.strip())
    return case


@transaction.atomic
def case_request_extension(*, case: Case, by: User, until: datetime, note: str) -> Case:
    action = ACTIONS["request_extension"]
    actor = _acting(by, case, action)
    note = _require_text(note, Code.REASON_REQUIRED, "申请延期必须说明理由")
    if until <= clock.now() or (case.due_at and until <= case.due_at):
        raise errors.invalid(Code.DEADLINE_INVALID, "延期后的期限必须晚于当前期限")
    _apply(case, action, actor, note=note, is_public=False, data={"until": until.isoformat()})
    return case


@transaction.atomic
def case_decide_extension(*, case: Case, by: User, approve: bool, note: str = "") -> Case:
    action = ACTIONS["approve_extension" if approve else "deny_extension"]
    actor = _acting(by, case, action)
    updates: dict[str, Any] = {}
    if approve:
        request = case.events.filter(type=EventType.EXTENSION_REQUESTED).order_by("-seq")[0]
        updates["due_at"] = datetime.fromisoformat(request.data["until"])
    else:
        note = _require_text(note, Code.REASON_REQUIRED, "驳回延期必须说明理由")
    _apply(case, action, actor, updates=updates, note=note.strip(), is_public=False)
    return case


@transaction.atomic
def case_request_suspension(*, case: Case, by: User, note: str) -> Case:
    action = ACTIONS["request_suspension"]
    actor = _acting(by, case, action)
    note = _require_text(note, Code.REASON_REQUIRED, "申请缓办必须说明理由")
    _apply(case, action, actor, note=note, is_public=False)
    return case


@transaction.atomic
def case_decide_suspension(*, case: Case, by: User, approve: bool, note: str = "") -> Case:
    action = ACTIONS["approve_suspension" if approve else "deny_suspension"]
    actor = _acting(by, case, action)
    if not approve:
        note = _require_text(note, Code.REASON_REQUIRED, "驳回缓办必须说明理由")
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
        note = _require_text(note, Code.REASON_REQUIRED, "核查不通过必须说明原因")
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
        raise DomainError(Code.VERIFICATION_REQUIRED, "核查通过后才能结案", status=409)
    now = clock.now()
    updates = {"closed_at": now, "closure_reason": reason}
    _apply(case, action, actor, updates=updates, reason=reason, note=note.strip())
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
                Code.REOPEN_WINDOW_PASSED, f"结案超过{settings.CASE_REOPEN_DAYS}天，不能重新打开"
            )
        actor = _public_actor(by)
    else:
        actor = _acting(by, case, action)
    note = _require_text(note, Code.REASON_REQUIRED, "重新打开必须说明原因")
    updates = {
        "reopen_count": F("reopen_count") + 1,
        "checked_at": None,
        "closed_at": None,
        "closure_reason": "",
        "assigned_org": None,
    }
    _apply(case, action, actor, updates=updates, note=note)
    return case


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
    checked_after = _check_photos(after, minimum=1)
    _check_photos(before, minimum=1)
    grid = _locate(lat, lon)
    membership = next(
        (m for m in memberships_of(by) if m.role == Role.GRID_WORKER and m.region.contains(grid)),
        None,
    )
    if membership is None:
        raise errors.role_not_allowed("自处置（仅限本人负责的网格）")
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
    Case.objects.filter(pk=case.pk).update(
        state=target or from_state, version=F("version") + 1, updated_at=clock.now(), **updates
    )
    case.refresh_from_db()
    event = event_record(
        case=case,
        type=event_type,
        actor=actor,
        from_state=from_state,
        to_state=target or "",
        reason=ClosureReason.FIXED if event_type == EventType.CLOSED else "",
        note=note.strip() or "网格员现场自处置",
        data={"on_spot": True},
    )
    if event_type == EventType.SUBMITTED:
        _store_photos(case, event, after, PhotoKind.AFTER, actor.user)


@transaction.atomic
def case_add_note(*, case: Case, by: User, text: str, is_public: bool) -> CaseEvent:
    """An internal note (staff only) or a public update (the reporter sees it)."""
    text = _require_text(text, Code.NOTE_REQUIRED, "请填写内容")
    is_reporter_update = case.reporter_id == by.pk and is_public
    actor = _public_actor(by) if is_reporter_update else _note_actor(by, case)
    changed = Case.objects.filter(pk=case.pk, version=case.version).update(
        version=F("version") + 1, updated_at=clock.now()
    )
    if changed != 1:
        raise errors.conflict()
    case.refresh_from_db()
    return event_record(
        case=case,
        type=EventType.PUBLIC_UPDATE if is_public else EventType.NOTE,
        actor=actor,
        note=text,
        is_public=is_public,
    )


def _note_actor(by: User, case: Case) -> Actor:
    for membership in memberships_of(by):
        role = Role(membership.role)
        if role not in {Role.RESIDENT, Role.VOLUNTEER} and membership_covers(membership, case):
            return Actor(by, role, membership.organisation, membership.region)
    raise errors.role_not_allowed("备注")
