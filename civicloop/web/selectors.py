"""Read-side helpers of the pages. Every case comes through the access-scoped selectors of
`civicloop.cases.selectors`; these only shape what the pages show."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from typing import Any

from django.core.files.storage import storages
from django.db.models import Count
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from civicloop.accounts.models import Membership, Organisation, User
from civicloop.accounts.selectors import organisations_for_dispatch
from civicloop.cases.models import (
    CLOSED_STATES,
    Case,
    CaseEvent,
    CaseQuerySet,
    Category,
    EventType,
    Photo,
    PhotoKind,
    SlaLevel,
    State,
)
from civicloop.cases.selectors import (
    CaseFilters,
    area_q,
    case_list_for,
    case_queryset_for,
    category_list,
)
from civicloop.regions.models import Level, Region
from civicloop.web import display

S = State
OPEN_STATES = tuple(s.value for s in State if s not in CLOSED_STATES and s != S.DRAFT)


@dataclass(frozen=True)
class Queue:
    key: str
    label: Promise
    states: tuple[str, ...]


CENTRE_QUEUES = [
    Queue("intake", _("待受理"), (S.REPORTED, S.REOPENED)),
    Queue("verifying", _("待核实"), (S.VERIFYING,)),
    Queue("dispatch", _("待派遣"), (S.FILED, S.RETURNED)),
    Queue("dispatched", _("待签收"), (S.DISPATCHED,)),
    Queue("working", _("处置中"), (S.ACCEPTED, S.REWORK)),
    Queue("check", _("待核查结案"), (S.SUBMITTED,)),
    Queue("approvals", _("待审批"), (S.EXTENSION_REQUESTED, S.SUSPENSION_REQUESTED)),
    Queue("suspended", _("缓办"), (S.SUSPENDED,)),
    Queue("done", _("已办结"), tuple(CLOSED_STATES)),
]

UNIT_QUEUES = [
    Queue("claim", _("待签收"), (S.DISPATCHED,)),
    Queue("working", _("处置中"), (S.ACCEPTED,)),
    Queue("rework", _("返工"), (S.REWORK,)),
    Queue("requests", _("延期缓办申请中"), (S.EXTENSION_REQUESTED, S.SUSPENSION_REQUESTED)),
    Queue("suspended", _("缓办"), (S.SUSPENDED,)),
    Queue("checking", _("待核查"), (S.SUBMITTED,)),
]


def queue_by_key(queues: Sequence[Queue], key: str | None, counts: dict[str, int]) -> Queue:
    """The queue asked for; without one, the first that has cases (work waiting first)."""
    chosen = next((q for q in queues if q.key == key), None)
    if chosen is None:
        chosen = next((q for q in queues if counts.get(q.key)), queues[0])
    return chosen


def queue_counts(cases: CaseQuerySet, queues: Sequence[Queue]) -> dict[str, int]:
    """One grouped query for all tabs of a desk."""
    per_state = dict(
        cases.order_by().values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    return {q.key: sum(per_state.get(s, 0) for s in q.states) for q in queues}


@dataclass(frozen=True)
class DeskQuery:
    """The filters of a desk: the case filters plus the kind (部件/事件) of the 大类 chosen,
    since 大类 codes repeat across the two kinds."""

    filters: CaseFilters = field(default_factory=CaseFilters)
    kind: str | None = None

    def but(self, **changes: Any) -> DeskQuery:
        return DeskQuery(CaseFilters(**{**self.filters.__dict__, **changes}), self.kind)


def desk_cases(user: User, query: DeskQuery) -> CaseQuerySet:
    cases = case_list_for(user, query.filters)
    if query.kind:
        cases = cases.filter(category__kind=query.kind)
    return cases


def unit_cases(user: User, query: DeskQuery) -> CaseQuerySet:
    """The cases my unit holds now."""
    return desk_cases(user, query.but(assigned_to_me=True))


def grid_cases(user: User, memberships: Sequence[Membership]) -> CaseQuerySet:
    """Open cases located in the grid worker's grids."""
    scope = reduce(operator.or_, (area_q(m.region) for m in memberships))
    return case_list_for(user, CaseFilters(states=OPEN_STATES)).filter(scope)


def my_reports(user: User) -> CaseQuerySet:
    return (
        case_queryset_for(user)
        .filter(reporter=user)
        .select_related("category__parent", "town", "village", "grid")
    )


@dataclass(frozen=True)
class BoardSection:
    key: str
    label: Promise
    cases: CaseQuerySet


def supervision_board(user: User, query: DeskQuery) -> list[BoardSection]:
    """督办看板: open cases under supervision, then by the deadline level the SLA sweep set."""
    open_cases = desk_cases(user, query.but(states=OPEN_STATES)).order_by("due_at", "id")
    return [
        BoardSection("supervised", _("督办中"), open_cases.exclude(supervision="")),
        BoardSection("serious", _("严重超期"), open_cases.filter(sla_level=SlaLevel.SERIOUS)),
        BoardSection("overdue", _("超期"), open_cases.filter(sla_level=SlaLevel.OVERDUE)),
        BoardSection("warning", _("临期预警"), open_cases.filter(sla_level=SlaLevel.WARNING)),
    ]


@dataclass(frozen=True)
class PendingRequest:
    label: str
    until: datetime | None
    note: str


def pending_requests(cases: Iterable[Case]) -> dict[int, PendingRequest]:
    """The latest extension or suspension request of each case, for the approvals tab."""
    ids = [c.pk for c in cases if c.state in (S.EXTENSION_REQUESTED, S.SUSPENSION_REQUESTED)]
    if not ids:
        return {}
    events = CaseEvent.objects.filter(
        case_id__in=ids,
        type__in=[EventType.EXTENSION_REQUESTED, EventType.SUSPENSION_REQUESTED],
    ).order_by("case_id", "seq")
    # Later events overwrite earlier ones: the latest request of each case wins.
    return {event.case_id: _pending(event) for event in events}


def _pending(event: CaseEvent) -> PendingRequest:
    until = event.data.get("until")
    return PendingRequest(
        label=event.get_type_display(),
        until=datetime.fromisoformat(until) if until else None,
        note=event.note,
    )


def organisation_names(codes: Iterable[str]) -> dict[str, str]:
    wanted = [code for code in codes if code]
    if not wanted:
        return {}
    return dict(Organisation.objects.filter(code__in=wanted).values_list("code", "name"))


def dispatch_targets(case: Case) -> list[Organisation]:
    region = case.grid or case.village or case.town
    return organisations_for_dispatch(region) if region else []


def categories_grouped() -> list[tuple[Category, list[Category]]]:
    """Active 小类 under their 大类, for the category picker."""
    groups: dict[int, tuple[Category, list[Category]]] = {}
    for category in category_list():
        major = category.parent
        assert major is not None
        groups.setdefault(major.pk, (major, []))[1].append(category)
    return list(groups.values())


@dataclass(frozen=True)
class PhotoView:
    id: int
    kind: str
    url: str
    width: int
    height: int


def photo_url(case: Case, photo: Photo) -> str:
    return reverse("web:photo", args=[case.number, photo.pk])


def photos_of(case: Case, events: Iterable[CaseEvent]) -> dict[int, list[PhotoView]]:
    """The photos of each visible event (prefetched by timeline_for)."""
    return {
        event.pk: [
            PhotoView(p.pk, p.kind, photo_url(case, p), p.width, p.height)
            for p in event.photos.all()
        ]
        for event in events
    }


def before_after(
    events: Sequence[CaseEvent], photos: dict[int, list[PhotoView]]
) -> tuple[list[PhotoView], list[PhotoView]]:
    """The report's photos and those of the latest submission, to show side by side."""
    before = [p for e in events for p in photos[e.pk] if p.kind == PhotoKind.BEFORE]
    submissions = [e for e in events if e.type == EventType.SUBMITTED and photos[e.pk]]
    if not submissions:
        return before, []
    return before, [p for p in photos[submissions[-1].pk] if p.kind == PhotoKind.AFTER]


def visible_photo(user: User, case: Case, photo_id: int, staff: bool) -> Photo | None:
    photo = case.photos.filter(pk=photo_id).select_related("event").first()
    if photo is None:
        return None
    if not staff and (photo.event is None or not photo.event.is_public):
        return None
    return photo


def open_public_copy(photo: Photo) -> Any:
    return storages["default"].open(photo.public.name)


# ---------------------------------------------------------------- maps

MAP_POINT_LIMIT = 1000


def map_points(cases: CaseQuerySet, limit: int = MAP_POINT_LIMIT) -> list[dict[str, Any]]:
    """The newest `limit` cases as map markers."""
    rows = (
        cases.select_related(None)
        .select_related("category")
        .only("number", "lat", "lon", "state", "category__name")[:limit]
    )
    return map_points_of(rows)


def map_points_of(cases: Iterable[Case]) -> list[dict[str, Any]]:
    return [
        {
            "number": c.number,
            "lat": c.lat,
            "lon": c.lon,
            "state": c.get_state_display(),
            "tone": display.tone(c.state),
            "title": c.category.name,
            "url": reverse("web:case", args=[c.number]),
        }
        for c in cases
    ]


def map_area(memberships: Sequence[Membership]) -> Region | None:
    """The highest region among the memberships: what a desk's map shows."""
    regions = sorted((m.region for m in memberships), key=lambda r: r.path.count("/"))
    return regions[0] if regions else None


_CHILD_LEVEL = {Level.CITY: Level.VILLAGE, Level.TOWN: Level.VILLAGE, Level.VILLAGE: Level.GRID}


def map_layer_level(region: Region) -> str:
    """The level drawn inside a region on a map: villages for a city or town, else grids."""
    return _CHILD_LEVEL.get(Level(region.level), Level.GRID)


def region_features(within: Region, level: str) -> dict[str, Any]:
    regions = Region.objects.within(within).filter(level=level, boundary__isnull=False)
    return {
        "type": "FeatureCollection",
        "features": [r.as_feature() for r in regions.only("code", "name", "level", "boundary")],
    }


def city() -> Region | None:
    return Region.objects.filter(level=Level.CITY).order_by("code").first()


def region_centre(region: Region | None) -> tuple[float, float] | None:
    if region is None or region.centre_lat is None or region.centre_lon is None:
        return None
    return region.centre_lat, region.centre_lon


# ---------------------------------------------------------------- desk filters


def major_categories() -> list[Category]:
    majors = Category.objects.filter(is_active=True, parent__isnull=True)
    return list(majors.order_by("kind", "full_code"))


def filter_regions(area: Region | None) -> list[tuple[str, str]]:
    """The regions one level down from a desk's area, offered as a filter."""
    if area is None:
        return []
    below = Region.objects.filter(parent=area).order_by("code").values_list("code", "name")
    return [(code, name) for code, name in below]
