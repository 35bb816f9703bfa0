"""Input and output shapes of the cases API."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import Field

from civicloop.cases.models import (
    ClosureReason,
    RejectReason,
    ReturnReason,
    Satisfaction,
    Source,
    SupervisionKind,
    Urgency,
)


class ReportIn(Schema):
    category: str = Field(description="小类完整编码，如 事件 0102 需同时给出 kind", max_length=16)
    kind: str = Field("event", pattern="^(event|component)$")
    description: str = Field(min_length=1, max_length=2000)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    address: str = Field("", max_length=200)
    urgency: Urgency = Urgency.NORMAL
    is_anonymous: bool = False
    source: Source | None = None
    reporter_name: str = Field("", max_length=50)
    reporter_phone: str = Field("", max_length=20)
    draft: bool = False


class OnSpotIn(Schema):
    category: str = Field(max_length=16)
    kind: str = Field("event", pattern="^(event|component)$")
    description: str = Field(min_length=1, max_length=2000)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    address: str = Field("", max_length=200)
    note: str = Field("", max_length=1000)


class ActionIn(Schema):
    # Optional optimistic lock: the version the client last saw; a mismatch is a conflict.
    version: int | None = None
    note: str = Field("", max_length=1000)


class FileIn(ActionIn):
    category: str | None = Field(None, max_length=16)
    kind: str = Field("event", pattern="^(event|component)$")
    urgency: Urgency | None = None


class RejectIn(ActionIn):
    reason: RejectReason


class MergeIn(ActionIn):
    into: str = Field(max_length=20)


class DispatchIn(ActionIn):
    to: str = Field(max_length=64, description="承办单位编码")


class ReturnIn(ActionIn):
    reason: ReturnReason


class ExtensionIn(ActionIn):
    until: datetime


class DecisionIn(ActionIn):
    approve: bool


class CloseIn(ActionIn):
    reason: ClosureReason = ClosureReason.FIXED


class ReclassifyIn(ActionIn):
    category: str | None = Field(None, max_length=16, description="新小类完整编码")
    kind: str = Field("event", pattern="^(event|component)$")
    urgency: Urgency | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = Field(None, max_length=200)


class AssistIn(ActionIn):
    to: str = Field(max_length=64, description="会办单位编码")


class EndAssistIn(ActionIn):
    org: str = Field(max_length=64, description="会办单位编码")


class RateIn(ActionIn):
    satisfaction: Satisfaction


class SuperviseIn(ActionIn):
    kind: SupervisionKind
    due_at: datetime | None = Field(None, description="要求办结时间")


class EvidenceIn(ActionIn):
    """Multipart fields that go with photos (confirm on site, submit, check)."""

    exists: bool = True
    passed: bool = True


class NoteIn(Schema):
    text: str = Field(min_length=1, max_length=2000)
    is_public: bool = False


class CategoryOut(Schema):
    kind: str
    code: str
    name: str
    major: str
    pinyin: str
    keywords: str


class PhotoOut(Schema):
    id: int
    kind: str
    url: str
    width: int
    height: int
    taken_at: datetime | None


class EventOut(Schema):
    seq: int
    type: str
    type_display: str
    at: datetime
    actor: str | None
    actor_role: str
    actor_org: str | None
    from_state: str
    to_state: str
    reason: str
    note: str
    is_public: bool
    photos: list[PhotoOut]


class RegionRef(Schema):
    code: str
    name: str


class ClockOut(Schema):
    stage: str
    stage_display: str
    started_at: datetime
    due_at: datetime | None
    warn_at: datetime | None
    level: int
    paused: bool
    stopped_at: datetime | None
    on_time: bool | None


class SupervisionOut(Schema):
    kind: str
    kind_display: str
    issued_by: str
    issuer_org: str | None
    issued_at: datetime
    due_at: datetime | None
    note: str
    lifted_at: datetime | None


class CaseOut(Schema):
    number: str
    state: str
    state_display: str
    version: int
    source: str
    category: str
    category_name: str
    kind: str
    description: str
    urgency: str
    lat: float
    lon: float
    address: str
    town: RegionRef | None
    village: RegionRef | None
    grid: RegionRef | None
    assigned_org: str | None
    assigned_org_name: str | None
    reporter_name: str | None
    is_anonymous: bool
    parent: str | None
    resolved_on_spot: bool
    reported_at: datetime
    filed_at: datetime | None
    due_at: datetime | None
    closed_at: datetime | None
    closure_reason: str
    dispatch_count: int
    return_count: int
    rework_count: int
    disposed_at: datetime | None
    on_time: bool | None
    was_returned: bool
    sla_level: int
    supervision: str
    satisfaction: str
    rated_at: datetime | None


class OrganisationOut(Schema):
    code: str
    name: str
    kind: str
    region: str
    suggested: bool = False


class CaseCreatedOut(Schema):
    """The 201 of a new report: enough to go on (the full case is at `url`, or ask for it with
    `?detail=true`)."""

    number: str
    state: str
    state_display: str
    version: int
    url: str


class CaseDetailOut(CaseOut):
    actions: list[str]
    timeline: list[EventOut]
    photos: list[PhotoOut]
    clocks: list[ClockOut]
    supervisions: list[SupervisionOut]
    assists: list[OrganisationOut]
    follower_count: int
    following: bool


class RouteOut(Schema):
    organisation: OrganisationOut | None
    auto: bool
    principle: str | None
    rule: int | None
    alternatives: list[OrganisationOut]


class DuplicateOut(Schema):
    number: str
    category: str
    category_name: str
    state: str
    state_display: str
    reported_at: datetime
    address: str
    distance_m: float
    followers: int


class TokenOut(Schema):
    token: str
