"""Thin handlers: parse, find the case through the access-scoped selector, call a service.

No `from __future__ import annotations` here: ninja reads the parameter annotations at runtime.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files.storage import storages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import LimitOffsetPagination, paginate

from civicloop.accounts.models import Organisation, User
from civicloop.accounts.selectors import organisations_for_dispatch
from civicloop.cases import errors, routing, selectors, services
from civicloop.cases.duplicates import Candidate, duplicate_candidates
from civicloop.cases.errors import Code
from civicloop.cases.kpi_api import router as kpi_router
from civicloop.cases.models import (
    Case,
    CaseClock,
    CaseEvent,
    Category,
    EventType,
    Photo,
    Stage,
    State,
    Supervision,
)
from civicloop.cases.schemas import (
    ActionIn,
    AssistIn,
    CaseCreatedOut,
    CaseDetailOut,
    CaseOut,
    CategoryOut,
    ClockOut,
    CloseIn,
    DecisionIn,
    DispatchIn,
    DuplicateOut,
    EndAssistIn,
    EventOut,
    EvidenceIn,
    ExtensionIn,
    FileIn,
    MergeIn,
    NoteIn,
    OnSpotIn,
    OrganisationOut,
    PhotoOut,
    RateIn,
    ReclassifyIn,
    RegionRef,
    RejectIn,
    ReportIn,
    ReturnIn,
    RouteOut,
    SuperviseIn,
    SupervisionOut,
)
from civicloop.lib.errors import DomainError

router = Router(tags=["cases"])
router.add_router("/", kpi_router)
Photos = File[list[UploadedFile]]


# ---------------------------------------------------------------- helpers


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _uploads(files: list[UploadedFile] | None) -> list[services.PhotoUpload]:
    uploads = []
    for f in files or []:
        # Refuse before reading an oversize file into memory; the service checks content.
        if f.size and f.size > settings.PHOTO_MAX_BYTES:
            limit = settings.PHOTO_MAX_BYTES // (1024 * 1024)
            raise DomainError(
                "photo_too_large",
                _("单张照片不能超过%(limit)sMB") % {"limit": limit},
                status=413,
                photo=f.name,
            )
        uploads.append(services.PhotoUpload(name=f.name or "photo", data=f.read()))
    return uploads


def _category(kind: str, code: str) -> Category:
    return services.category_by_code(kind, code)


def _organisation(code: str) -> Organisation:
    org = Organisation.objects.filter(code=code).select_related("region").first()
    if org is None:
        raise errors.invalid(Code.TARGET_INVALID, _("承办单位不存在"))
    return org


def _org_out(org: Organisation, suggested: bool = False) -> OrganisationOut:
    return OrganisationOut(
        code=org.code, name=org.name, kind=org.kind, region=org.region.code, suggested=suggested
    )


def _case(request: HttpRequest, number: str, version: int | None = None) -> Case:
    case = selectors.get_case_for_user(_user(request), number)
    if version is not None and version != case.version:
        raise errors.conflict()
    return case


def _scoped(request: HttpRequest, case: Case) -> Case:
    """A case the handler did not read through the selector (just created, or followed), read
    through it now: the detail shows only what the user may see."""
    return selectors.get_case_for_user(_user(request), case.number)


def _region(region: Any) -> RegionRef | None:
    return RegionRef(code=region.code, name=region.name) if region else None


def _photo_out(photo: Photo) -> PhotoOut:
    return PhotoOut(
        id=photo.pk,
        kind=photo.kind,
        url=storages["default"].url(photo.public.name),
        width=photo.width,
        height=photo.height,
        taken_at=photo.taken_at,
    )


def _case_fields(user: User, case: Case) -> dict[str, Any]:
    org = case.assigned_org
    return {
        "number": case.number,
        "state": case.state,
        "state_display": case.get_state_display(),
        "version": case.version,
        "source": case.source,
        "category": case.category.full_code,
        "category_name": str(case.category),
        "kind": case.category.kind,
        "description": case.description,
        "urgency": case.urgency,
        "lat": case.lat,
        "lon": case.lon,
        "address": case.address,
        "town": _region(case.town),
        "village": _region(case.village),
        "grid": _region(case.grid),
        "assigned_org": org.code if org else None,
        "assigned_org_name": org.name if org else None,
        "reporter_name": case.reporter_name if selectors.can_see_reporter(user, case) else None,
        "is_anonymous": case.is_anonymous,
        "parent": case.parent.number if case.parent_id else None,  # type: ignore[union-attr]
        "resolved_on_spot": case.resolved_on_spot,
        "reported_at": case.reported_at,
        "filed_at": case.filed_at,
        "due_at": case.due_at,
        "closed_at": case.closed_at,
        "closure_reason": case.closure_reason,
        "dispatch_count": case.dispatch_count,
        "return_count": case.return_count,
        "rework_count": case.rework_count,
        "disposed_at": case.disposed_at,
        "on_time": case.on_time,
        "was_returned": case.was_returned,
        "sla_level": case.sla_level,
        "supervision": case.supervision,
        "satisfaction": case.satisfaction,
        "rated_at": case.rated_at,
    }


def _clock_out(clock: CaseClock) -> ClockOut:
    return ClockOut(
        stage=clock.stage,
        stage_display=str(Stage(clock.stage).label),
        started_at=clock.started_at,
        due_at=clock.due_at,
        warn_at=clock.warn_at,
        level=clock.level,
        paused=clock.paused_at is not None,
        stopped_at=clock.stopped_at,
        on_time=clock.on_time,
    )


def _supervision_out(row: Supervision) -> SupervisionOut:
    return SupervisionOut(
        kind=row.kind,
        kind_display=row.get_kind_display(),
        issued_by=row.issued_by.name,
        issuer_org=row.issuer_org.name if row.issuer_org else None,
        issued_at=row.issued_at,
        due_at=row.due_at,
        note=row.note,
        lifted_at=row.lifted_at,
    )


# What `get_type_display()` shows, without building the dict of forty choices per event (the
# labels are lazy: str() translates them in the request's language).
_EVENT_TYPES: dict[str, Any] = dict(EventType.choices)


def _event_out(event: CaseEvent, show_actor: bool) -> EventOut:
    return EventOut(
        seq=event.seq,
        type=event.type,
        type_display=str(_EVENT_TYPES.get(event.type, event.type)),
        at=event.at,
        actor=event.actor.name if event.actor and show_actor else None,
        actor_role=event.actor_role,
        actor_org=event.actor_org.name if event.actor_org else None,
        from_state=event.from_state,
        to_state=event.to_state,
        reason=event.reason,
        note=event.note,
        is_public=event.is_public,
        photos=[_photo_out(p) for p in event.photos.all()],
    )


def _detail(request: HttpRequest, case: Case) -> CaseDetailOut:
    """The case as `GET /cases/{number}` shows it. `case` was read in this request through the
    access-scoped selector (`_case`), and a service that changed it has brought it up to date
    (its compare-and-swap returns the row); a case a service created or found otherwise is
    read through the selector first (`_scoped`)."""
    user = _user(request)
    timeline = selectors.timeline_for(user, case)
    staff = selectors.is_staff_viewer(user, case)
    show_reporter = selectors.can_see_reporter(user, case)
    events = [
        # The reporter's own name on the first event follows the anonymity rule.
        _event_out(e, staff and (show_reporter or e.actor_id != case.reporter_id))
        for e in timeline
    ]
    photos = [p for e in timeline for p in e.photos.all()]
    followers = set(case.followers.values_list("user_id", flat=True))
    return CaseDetailOut(
        **_case_fields(user, case),
        actions=selectors.actions_for(user, case),
        timeline=events,
        photos=[_photo_out(p) for p in photos],
        clocks=[_clock_out(c) for c in selectors.clocks_for(user, case)],
        supervisions=[_supervision_out(s) for s in selectors.supervisions_for(user, case)],
        assists=[_org_out(a.organisation) for a in selectors.assists_of(case)] if staff else [],
        follower_count=len(followers),
        following=user.pk in followers,
    )


class CaseListFilters(Schema):
    state: list[State] = []
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


# ---------------------------------------------------------------- reading


@router.get("/categories", response=list[CategoryOut])
def list_categories(request: HttpRequest) -> list[CategoryOut]:
    return [
        CategoryOut(
            kind=c.kind,
            code=c.full_code,
            name=c.name,
            major=c.parent.name,  # type: ignore[union-attr]
            pinyin=c.pinyin,
            keywords=c.keywords,
        )
        for c in selectors.category_list()
    ]


@router.get("/cases", response=list[CaseOut])
@paginate(LimitOffsetPagination)
def list_cases(request: HttpRequest, filters: Query[CaseListFilters]) -> list[CaseOut]:
    user = _user(request)
    cases = selectors.case_list_for(
        user,
        selectors.CaseFilters(
            states=tuple(filters.state),
            category=filters.category,
            region=filters.region,
            source=filters.source,
            reported_from=filters.reported_from,
            reported_to=filters.reported_to,
            overdue=filters.overdue,
            assigned_to_me=filters.assigned_to_me,
            q=filters.q,
            sla_level=filters.sla_level,
            supervised=filters.supervised,
        ),
    )
    return _LazyCaseList(user, cases)  # type: ignore[return-value]


class _LazyCaseList:
    """Lets the paginator slice the queryset before rows are turned into schemas."""

    def __init__(self, user: User, cases: Any) -> None:
        self.user, self.cases = user, cases

    def __len__(self) -> int:
        return int(self.cases.count())

    def count(self) -> int:
        return len(self)

    def __getitem__(self, item: slice) -> list[CaseOut]:
        return [CaseOut(**_case_fields(self.user, c)) for c in self.cases[item]]


class DuplicateQuery(Schema):
    category: str
    kind: str = "event"
    lat: float
    lon: float


def _duplicate_out(candidate: Candidate) -> DuplicateOut:
    case = candidate.case
    return DuplicateOut(
        number=case.number,
        category=case.category.full_code,
        category_name=str(case.category),
        state=case.state,
        state_display=case.get_state_display(),
        reported_at=case.reported_at,
        address=case.address,
        distance_m=candidate.distance_m,
        followers=candidate.followers,
    )


# Registered before /cases/{number} so that the literal paths win.
@router.get("/cases/duplicates", response=list[DuplicateOut])
def report_duplicates(request: HttpRequest, query: Query[DuplicateQuery]) -> list[DuplicateOut]:
    """Before submitting: open cases of the same 小类 nearby that the reporter may follow."""
    category = _category(query.kind, query.category)
    return [
        _duplicate_out(c)
        for c in duplicate_candidates(category=category, lat=query.lat, lon=query.lon)
    ]


@router.post("/cases/on-spot", response={201: CaseDetailOut})
def resolve_on_spot(
    request: HttpRequest,
    payload: Form[OnSpotIn],
    before: Photos = None,  # type: ignore[assignment]
    after: Photos = None,  # type: ignore[assignment]
) -> Status[CaseDetailOut]:
    case = services.case_resolve_on_spot(
        by=_user(request),
        category=_category(payload.kind, payload.category),
        description=payload.description,
        lat=payload.lat,
        lon=payload.lon,
        address=payload.address,
        before=_uploads(before),
        after=_uploads(after),
        note=payload.note,
    )
    return Status(201, _detail(request, _scoped(request, case)))


@router.get("/cases/{number}", response=CaseDetailOut)
def get_case(request: HttpRequest, number: str) -> CaseDetailOut:
    return _detail(request, _case(request, number))


@router.get("/cases/{number}/dispatch-targets", response=list[OrganisationOut])
def dispatch_targets(request: HttpRequest, number: str) -> list[OrganisationOut]:
    case = _case(request, number)
    region = case.grid or case.village or case.town
    if region is None:
        return []
    route = routing.route_for(case)
    suggested = route.organisation.pk if route else None
    return [_org_out(o, o.pk == suggested) for o in organisations_for_dispatch(region)]


@router.get("/cases/{number}/route", response=RouteOut)
def suggested_route(request: HttpRequest, number: str) -> RouteOut:
    """The unit the routing rules name for the case (事件先属地后属主, 部件先属主后属地)."""
    user = _user(request)
    case = _case(request, number)
    if not selectors.is_staff_viewer(user, case):
        raise errors.not_found()
    route = routing.route_for(case)
    others: list[Organisation] = []
    for rule in routing.matching_rules(case)[1:]:
        if (
            route
            and rule.organisation_id != route.organisation.pk
            and rule.organisation not in others
        ):
            others.append(rule.organisation)
    return RouteOut(
        organisation=_org_out(route.organisation, True) if route else None,
        auto=route.auto if route else False,
        principle=route.principle if route else None,
        rule=route.rule.pk if route else None,
        alternatives=[_org_out(o) for o in others],
    )


@router.get("/cases/{number}/duplicates", response=list[DuplicateOut])
def case_duplicates(request: HttpRequest, number: str) -> list[DuplicateOut]:
    """Open cases like this one nearby, for the centre to merge."""
    user = _user(request)
    case = _case(request, number)
    if not selectors.is_staff_viewer(user, case):
        raise errors.not_found()
    found = duplicate_candidates(category=case.category, lat=case.lat, lon=case.lon, exclude=case)
    return [_duplicate_out(c) for c in found]


@router.get("/cases/{number}/photos/{photo_id}/original")
def photo_original(request: HttpRequest, number: str, photo_id: int) -> FileResponse:
    """The untouched original with EXIF, for the centre as evidence."""
    user = _user(request)
    case = _case(request, number)
    photo = case.photos.filter(pk=photo_id).first()
    if photo is None or not selectors.is_staff_viewer(user, case):
        raise errors.not_found()
    return FileResponse(storages["private"].open(photo.original), content_type=photo.content_type)


# ---------------------------------------------------------------- intake


@router.post("/cases", response={201: CaseCreatedOut | CaseDetailOut})
def report_case(
    request: HttpRequest,
    payload: Form[ReportIn],
    photos: Photos = None,  # type: ignore[assignment]
    detail: bool = False,
) -> Status[CaseCreatedOut | CaseDetailOut] | HttpResponse:
    """Report a problem. The 201 carries the number, state, version and the case's URL; with
    `?detail=true` it is the full case, as `GET /cases/{number}` returns it."""
    case = services.case_report(
        by=_user(request),
        # Read by the service with the placement and the reporter's memberships.
        category=services.CategoryCode(payload.kind, payload.category),
        description=payload.description,
        lat=payload.lat,
        lon=payload.lon,
        address=payload.address,
        urgency=payload.urgency,
        photos=_uploads(photos),
        is_anonymous=payload.is_anonymous,
        source=payload.source,
        reporter_name=payload.reporter_name,
        reporter_phone=payload.reporter_phone,
        draft=payload.draft,
    )
    if detail:
        return Status(201, _detail(request, _scoped(request, case)))
    created = {
        "number": case.number,
        "state": case.state,
        "state_display": str(State(case.state).label),  # as `get_state_display()`, 0.08 ms less
        "version": case.version,
        "url": f"{request.path.rstrip('/')}/{case.number}",
    }
    # `CaseCreatedOut` as the API renders it, without ninja validating these five plain values
    # against the declared union (CaseCreatedOut | CaseDetailOut): 0.3 ms of every report.
    # The NinjaAPI this router is mounted on imports this module, hence the late import.
    from civicloop.api.urls import api

    return api.create_response(request, created, status=201)


def _simple(
    name: str, service: Callable[..., Case]
) -> Callable[[HttpRequest, str, ActionIn], CaseDetailOut]:
    def handler(request: HttpRequest, number: str, payload: ActionIn) -> CaseDetailOut:
        case = _case(request, number, payload.version)
        service(case=case, by=_user(request), note=payload.note)
        return _detail(request, case)

    handler.__name__ = name.replace("-", "_")
    return handler


for _path, _service in [
    ("submit-draft", lambda *, case, by, note: services.case_submit_draft(case=case, by=by)),
    ("request-verification", services.case_request_verification),
    ("reinstate", services.case_reinstate),
    ("claim", services.case_claim),
    ("request-suspension", services.case_request_suspension),
    ("resume", services.case_resume),
    ("reopen", services.case_reopen),
    ("lift-supervision", services.case_supervision_lift),
    ("recall", services.case_recall),
]:
    router.post(f"/cases/{{number}}/{_path}", response=CaseDetailOut)(_simple(_path, _service))


@router.post("/cases/{number}/confirm-on-site", response=CaseDetailOut)
def confirm_on_site(
    request: HttpRequest,
    number: str,
    payload: Form[EvidenceIn],
    photos: Photos = None,  # type: ignore[assignment]
) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    services.case_confirm_on_site(
        case=case,
        by=_user(request),
        exists=payload.exists,
        note=payload.note,
        photos=_uploads(photos),
    )
    return _detail(request, case)


@router.post("/cases/{number}/file", response=CaseDetailOut)
def file_case(request: HttpRequest, number: str, payload: FileIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    category = _category(payload.kind, payload.category) if payload.category else None
    services.case_file(
        case=case,
        by=_user(request),
        category=category,
        urgency=payload.urgency,
        note=payload.note,
    )
    return _detail(request, case)


@router.post("/cases/{number}/reject", response=CaseDetailOut)
def reject_case(request: HttpRequest, number: str, payload: RejectIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    services.case_reject(case=case, by=_user(request), reason=payload.reason, note=payload.note)
    return _detail(request, case)


@router.post("/cases/{number}/merge", response=CaseDetailOut)
def merge_case(request: HttpRequest, number: str, payload: MergeIn) -> CaseDetailOut:
    user = _user(request)
    case = _case(request, number, payload.version)
    into = selectors.get_case_for_user(user, payload.into)
    services.case_merge(case=case, into=into, by=user, note=payload.note)
    return _detail(request, case)


@router.post("/cases/{number}/dispatch", response=CaseDetailOut)
def dispatch_case(request: HttpRequest, number: str, payload: DispatchIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    to = _organisation(payload.to)
    services.case_dispatch(case=case, to=to, by=_user(request), note=payload.note)
    return _detail(request, case)


@router.post("/cases/{number}/return", response=CaseDetailOut)
def return_case(request: HttpRequest, number: str, payload: ReturnIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    services.case_return(case=case, by=_user(request), reason=payload.reason, note=payload.note)
    return _detail(request, case)


@router.post("/cases/{number}/request-extension", response=CaseDetailOut)
def request_extension(request: HttpRequest, number: str, payload: ExtensionIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    services.case_request_extension(
        case=case, by=_user(request), until=payload.until, note=payload.note
    )
    return _detail(request, case)


@router.post("/cases/{number}/decide-extension", response=CaseDetailOut)
def decide_extension(request: HttpRequest, number: str, payload: DecisionIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    services.case_decide_extension(
        case=case, by=_user(request), approve=payload.approve, note=payload.note
    )
    return _detail(request, case)


@router.post("/cases/{number}/decide-suspension", response=CaseDetailOut)
def decide_suspension(request: HttpRequest, number: str, payload: DecisionIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    services.case_decide_suspension(
        case=case, by=_user(request), approve=payload.approve, note=payload.note
    )
    return _detail(request, case)


@router.post("/cases/{number}/submit", response=CaseDetailOut)
def submit_case(
    request: HttpRequest,
    number: str,
    payload: Form[EvidenceIn],
    photos: Photos = None,  # type: ignore[assignment]
) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    services.case_submit(case=case, by=_user(request), photos=_uploads(photos), note=payload.note)
    return _detail(request, case)


@router.post("/cases/{number}/check", response=CaseDetailOut)
def check_case(
    request: HttpRequest,
    number: str,
    payload: Form[EvidenceIn],
    photos: Photos = None,  # type: ignore[assignment]
) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    services.case_check(
        case=case,
        by=_user(request),
        passed=payload.passed,
        note=payload.note,
        photos=_uploads(photos),
    )
    return _detail(request, case)


@router.post("/cases/{number}/close", response=CaseDetailOut)
def close_case(request: HttpRequest, number: str, payload: CloseIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    services.case_close(case=case, by=_user(request), reason=payload.reason, note=payload.note)
    return _detail(request, case)


@router.post("/cases/{number}/notes", response={201: CaseDetailOut})
def add_note(request: HttpRequest, number: str, payload: NoteIn) -> Status[CaseDetailOut]:
    case = _case(request, number)
    services.case_add_note(
        case=case, by=_user(request), text=payload.text, is_public=payload.is_public
    )
    return Status(201, _detail(request, case))


@router.post("/cases/{number}/supervise", response=CaseDetailOut)
def supervise_case(request: HttpRequest, number: str, payload: SuperviseIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    services.case_supervise(
        case=case, by=_user(request), kind=payload.kind, note=payload.note, due_at=payload.due_at
    )
    return _detail(request, case)


@router.post("/cases/{number}/reclassify", response=CaseDetailOut)
def reclassify_case(request: HttpRequest, number: str, payload: ReclassifyIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    category = _category(payload.kind, payload.category) if payload.category else None
    services.case_reclassify(
        case=case,
        by=_user(request),
        category=category,
        urgency=payload.urgency,
        lat=payload.lat,
        lon=payload.lon,
        address=payload.address,
        note=payload.note,
    )
    return _detail(request, case)


@router.post("/cases/{number}/assist", response=CaseDetailOut)
def add_assist(request: HttpRequest, number: str, payload: AssistIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    to = _organisation(payload.to)
    services.case_assist_add(case=case, to=to, by=_user(request), note=payload.note)
    return _detail(request, case)


@router.post("/cases/{number}/end-assist", response=CaseDetailOut)
def end_assist(request: HttpRequest, number: str, payload: EndAssistIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    org = _organisation(payload.org)
    services.case_assist_end(case=case, organisation=org, by=_user(request), note=payload.note)
    return _detail(request, case)


@router.post("/cases/{number}/evidence", response={201: CaseDetailOut})
def add_evidence(
    request: HttpRequest,
    number: str,
    payload: Form[EvidenceIn],
    photos: Photos = None,  # type: ignore[assignment]
) -> Status[CaseDetailOut]:
    case = _case(request, number, payload.version)
    services.case_add_evidence(
        case=case, by=_user(request), photos=_uploads(photos), note=payload.note
    )
    return Status(201, _detail(request, case))


@router.post("/cases/{number}/follow", response=CaseDetailOut)
def follow_case(request: HttpRequest, number: str) -> CaseDetailOut:
    """我也遇到: follow an open case instead of reporting it again."""
    case = selectors.get_case_to_follow(_user(request), number)
    services.case_follow(case=case, by=_user(request))
    return _detail(request, _scoped(request, case))


@router.post("/cases/{number}/unfollow", response=CaseDetailOut)
def unfollow_case(request: HttpRequest, number: str) -> CaseDetailOut:
    user = _user(request)
    case = _case(request, number)
    services.case_unfollow(case=case, by=user)
    if not selectors.case_queryset_for(user).filter(pk=case.pk).exists():
        raise errors.not_found()
    return _detail(request, case)


@router.post("/cases/{number}/rate", response=CaseDetailOut)
def rate_case(request: HttpRequest, number: str, payload: RateIn) -> CaseDetailOut:
    case = _case(request, number, payload.version)
    services.case_rate(
        case=case, by=_user(request), satisfaction=payload.satisfaction, note=payload.note
    )
    return _detail(request, case)
