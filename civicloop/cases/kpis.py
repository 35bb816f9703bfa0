"""Evaluation indicators (GB/T 30428.4 and city practice) as SQL aggregates over the facts frozen
on cases, clocks and dispatch records; the formulas are in docs/kpis.md.

Each indicator belongs to a *family*: a base table, the instant that places a row in a period
(its anchor) and the rows it considers. One query per family computes every indicator of the
family for every group, so a report is a handful of aggregates whatever its size. Every number
drills down to the rows behind it (`drilldown`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Count, F, IntegerField, Model, Q, QuerySet, Sum
from django.db.models import Value as V
from django.db.models.functions import NullIf
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from civicloop.accounts.models import CENTRE_ROLES, UNIT_ROLES, Organisation, User
from civicloop.accounts.selectors import memberships_of
from civicloop.cases.models import (
    ROLLUP_COUNTERS,
    Case,
    CaseClock,
    CaseCycle,
    CaseQuerySet,
    Category,
    ClosureReason,
    Dispatch,
    DispatchOutcome,
    KpiRollup,
    Satisfaction,
    SlaLevel,
    Source,
    Stage,
    State,
)
from civicloop.cases.selectors import area_q
from civicloop.lib import clock
from civicloop.lib.clock import SHANGHAI
from civicloop.lib.errors import Forbidden, Invalid
from civicloop.regions.models import Level, Region

# ---------------------------------------------------------------- periods


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: datetime
    end: datetime
    label: str


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def period_of(kind: PeriodKind, day: date) -> Period:
    """The local (Asia/Shanghai) day, week (from Monday), month, quarter or year of `day`."""
    if kind == PeriodKind.DAY:
        first, last = day, day + timedelta(days=1)
        label = f"{day:%Y-%m-%d}"
    elif kind == PeriodKind.WEEK:
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
        year, week, _weekday = day.isocalendar()
        label = f"{year}-W{week:02d}"
    elif kind == PeriodKind.MONTH:
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
        label = f"{day:%Y-%m}"
    elif kind == PeriodKind.QUARTER:
        quarter = (day.month - 1) // 3
        first = date(day.year, quarter * 3 + 1, 1)
        last = (first + timedelta(days=95)).replace(day=1)
        label = f"{day.year}-Q{quarter + 1}"
    else:
        first, last = date(day.year, 1, 1), date(day.year + 1, 1, 1)
        label = str(day.year)
    return Period(kind, _midnight(first), _midnight(last), label)


# ---------------------------------------------------------------- families and indicators


class Base(StrEnum):
    CASE = "case"
    CLOCK = "clock"
    DISPATCH = "dispatch"


MODELS: dict[Base, type[Model]] = {Base.CASE: Case, Base.CLOCK: CaseClock, Base.DISPATCH: Dispatch}
# Path from the base row to its case.
CASE_PATH = {Base.CASE: "", Base.CLOCK: "case__", Base.DISPATCH: "case__"}


@dataclass(frozen=True)
class Family:
    code: str
    base: Base
    anchor: str
    # The rows considered, given the evaluation instant (the end of the period, or now).
    scope: Callable[[datetime], Q]
    person: str | None = None
    org: str | None = None
    # The family also counts the closed cycles of reopened cases (`CaseCycle`, same columns).
    cycles: bool = False

    def org_path(self) -> str:
        return self.org or f"{CASE_PATH[self.base]}assigned_org"


HOTLINE = Q(source=Source.HOTLINE)


def _due(until: datetime) -> Q:
    """应结案: filed, not rejected or merged, with its deadline passed by the evaluation instant.
    A reopened case waiting to be filed again is in no period: its last deadline belongs to
    the cycle that ended (counted as a `CaseCycle`), the next one is set when it is filed."""
    return Q(filed_at__isnull=False, due_at__lt=until) & ~Q(
        state__in=[State.REJECTED, State.MERGED, State.REOPENED]
    )


def _clock_due(stage: Stage) -> Callable[[datetime], Q]:
    return lambda until: Q(stage=stage, due_at__lt=until)


FAMILIES = {
    f.code: f
    for f in [
        Family("due", Base.CASE, "due_at", _due, cycles=True),
        Family(
            "hotline_reported",
            Base.CASE,
            "reported_at",
            lambda t: HOTLINE & ~Q(state=State.DRAFT),
        ),
        Family(
            "grid_reports",
            Base.CASE,
            "reported_at",
            lambda t: Q(source=Source.GRID_WORKER) & ~Q(state=State.DRAFT),
            person="reporter",
        ),
        Family(
            "rated_hotline",
            Base.CASE,
            "rated_at",
            lambda t: HOTLINE & ~Q(satisfaction="") & Q(rated_at__lt=t),
            cycles=True,
        ),
        Family("verify", Base.CLOCK, "due_at", _clock_due(Stage.VERIFY), person="stopped_by"),
        Family("check", Base.CLOCK, "due_at", _clock_due(Stage.CHECK), person="stopped_by"),
        Family(
            "dispatches",
            Base.DISPATCH,
            "at",
            lambda t: Q(at__lt=t),
            person="by",
            org="organisation",
        ),
    ]
}


@dataclass(frozen=True)
class Indicator:
    code: str
    name: Promise
    family: str
    denominator: Callable[[datetime], Q]
    numerator: Callable[[datetime], Q]
    formula: Promise

    @property
    def fam(self) -> Family:
        return FAMILIES[self.family]


def _all(until: datetime) -> Q:
    return Q()


def _not_suspended(until: datetime) -> Q:
    return ~Q(state=State.SUSPENDED)


def _closed(until: datetime) -> Q:
    return Q(state=State.CLOSED, closed_at__lt=until)


def _disposed(until: datetime) -> Q:
    return Q(disposed_at__lt=until)


def _to_respond(until: datetime) -> Q:
    """应受理: decided (in time or not), or still waiting and already marked overdue."""
    waiting = Q(state__in=[State.REPORTED, State.VERIFYING], sla_level__gte=SlaLevel.OVERDUE)
    return Q(intake_on_time__isnull=False) | waiting


INDICATORS = {
    i.code: i
    for i in [
        Indicator(
            "closure_rate",
            _("结案率"),
            "due",
            _not_suspended,
            _closed,
            _("结案数 ÷ (应结案数 − 缓办数)"),
        ),
        Indicator(
            "on_time_closure_rate",
            _("按期结案率"),
            "due",
            _not_suspended,
            lambda t: _closed(t) & Q(on_time=True),
            _("按期结案数 ÷ (应结案数 − 缓办数)"),
        ),
        Indicator(
            "rework_rate",
            _("返工率"),
            "due",
            _closed,
            lambda t: _closed(t) & Q(rework_count__gt=0),
            _("返工案件数 ÷ 结案数"),
        ),
        Indicator(
            "first_time_rate",
            _("一次完成率"),
            "due",
            _closed,
            lambda t: _closed(t) & Q(rework_count=0),
            _("未返工的结案数 ÷ 结案数"),
        ),
        Indicator(
            "disposal_rate",
            _("处置率"),
            "due",
            _not_suspended,
            _disposed,
            _("处置数 ÷ (应处置数 − 缓办数)"),
        ),
        Indicator(
            "on_time_disposal_rate",
            _("按期处置率"),
            "due",
            _not_suspended,
            lambda t: _disposed(t) & Q(disposed_at__lte=F("due_at")),
            _("按期处置数 ÷ (应处置数 − 缓办数)"),
        ),
        Indicator(
            "dispatch_accuracy",
            _("派遣准确率"),
            "dispatches",
            _all,
            lambda t: ~Q(outcome__in=[DispatchOutcome.RETURNED, DispatchOutcome.RECALLED]),
            _("(派遣数 − 退回数 − 改派数) ÷ 派遣数"),
        ),
        Indicator(
            "valid_report_rate",
            _("有效上报率"),
            "grid_reports",
            lambda t: Q(filed_at__isnull=False) | Q(state__in=[State.REJECTED, State.MERGED]),
            lambda t: Q(filed_at__isnull=False),
            _("立案数 ÷ 已受理的上报数（网格员）"),
        ),
        Indicator(
            "on_time_verify_rate",
            _("按时核实率"),
            "verify",
            _all,
            lambda t: Q(on_time=True, stopped_at__lt=t),
            _("按时核实数 ÷ 应核实数"),
        ),
        Indicator(
            "on_time_check_rate",
            _("按时核查率"),
            "check",
            _all,
            lambda t: Q(on_time=True, stopped_at__lt=t),
            _("按时核查数 ÷ 应核查数"),
        ),
        Indicator(
            "response_rate",
            _("响应率（12345）"),
            "hotline_reported",
            _to_respond,
            lambda t: Q(intake_on_time=True),
            _("按时受理的热线诉求数 ÷ 应受理的热线诉求数"),
        ),
        Indicator(
            "solve_rate",
            _("解决率（12345）"),
            "due",
            lambda t: _not_suspended(t) & HOTLINE,
            lambda t: _closed(t) & Q(closure_reason=ClosureReason.FIXED),
            _("已解决的热线诉求数 ÷ (应办结的热线诉求数 − 缓办数)"),
        ),
        Indicator(
            "satisfaction_rate",
            _("满意率（12345）"),
            "rated_hotline",
            _all,
            lambda t: Q(satisfaction__in=[Satisfaction.SATISFIED, Satisfaction.BASIC]),
            _("(满意数 + 基本满意数) ÷ 回访评价数"),
        ),
    ]
}

# Indicator sets of the evaluation objects of GB/T 30428.4: 区域, 部门, 岗位, and 12345.
ROLE_INDICATORS: dict[str, list[str]] = {
    "region": [
        "closure_rate",
        "on_time_closure_rate",
        "rework_rate",
        "first_time_rate",
    ],
    "unit": ["disposal_rate", "on_time_disposal_rate", "rework_rate", "first_time_rate"],
    "grid_worker": ["valid_report_rate", "on_time_verify_rate", "on_time_check_rate"],
    "dispatcher": ["dispatch_accuracy"],
    "hotline": ["response_rate", "solve_rate", "satisfaction_rate"],
}


# ---------------------------------------------------------------- rollups

# The evaluation instant a rolled row's counters are evaluated with (cases.kpi_rollups). A rollup
# row is only used by a report whose evaluation instant T comes after the day its cases settled,
# and every instant of a settled case that a condition compares with T (`closed_at < T` …) came
# by then: such a comparison is true for T exactly when the instant is set, as it is for ROLLED.
ROLLED = datetime(3000, 1, 1, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class RollupLayout:
    """The counters a family's rollup rows keep: column `n{i}` counts the rows meeting
    `conditions[i]` (n0: every row); `parts[indicator] = (numerator column, denominator column)`."""

    conditions: tuple[Q, ...]
    parts: dict[str, tuple[int, int]]


def _layout(family: str) -> RollupLayout:
    conditions: list[Q] = [Q()]
    parts: dict[str, tuple[int, int]] = {}

    def column(condition: Q) -> int:
        condition = _conjunction(condition)
        if condition not in conditions:
            conditions.append(condition)
        return conditions.index(condition)

    for indicator in INDICATORS.values():
        if indicator.family == family:
            den = indicator.denominator(ROLLED)
            parts[indicator.code] = (column(den & indicator.numerator(ROLLED)), column(den))
    if len(conditions) > ROLLUP_COUNTERS:
        raise ValueError(f"{family}: {len(conditions)} rollup counters, {ROLLUP_COUNTERS} columns")
    return RollupLayout(tuple(conditions), parts)


def compared_fields(family: Family) -> tuple[str, ...]:
    """The instants of its base row that a family's conditions compare with the evaluation
    instant (`closed_at < T` …), found by evaluating them with a marker instant."""
    marker = datetime(2999, 12, 31, 23, 59, 59, tzinfo=SHANGHAI)
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Q):
            for child in node.children:
                walk(child)
        elif node[1] == marker:
            name = node[0].rsplit("__", 1)[0]
            if "__" in name:
                raise ValueError(f"{family.code}: {node[0]} compares a related row's instant")
            found.add(name)

    walk(family.scope(marker))
    for indicator in INDICATORS.values():
        if indicator.family == family.code:
            walk(indicator.denominator(marker) & indicator.numerator(marker))
    return tuple(sorted(found))


# The instants a rolled row of each family must have reached before a report may read it from the
# rollups (the day it *settles*): its anchor and every instant compared with T.
SETTLE_FIELDS = {
    code: tuple(sorted({f.anchor, *compared_fields(f)})) for code, f in FAMILIES.items()
}


# ---------------------------------------------------------------- dimensions


class Dimension(StrEnum):
    NONE = "none"
    TOWN = "town"
    VILLAGE = "village"
    GRID = "grid"
    ORG = "org"
    CATEGORY = "category"
    MAJOR = "major"
    SOURCE = "source"
    PERSON = "person"


def dimension_path(dimension: Dimension, family: Family) -> str | None:
    """The field a family's rows are grouped by; None when the family has no such field."""
    case = CASE_PATH[family.base]
    paths = {
        Dimension.TOWN: f"{case}town",
        Dimension.VILLAGE: f"{case}village",
        Dimension.GRID: f"{case}grid",
        Dimension.ORG: family.org_path(),
        Dimension.CATEGORY: f"{case}category",
        Dimension.MAJOR: f"{case}category__parent",
        Dimension.SOURCE: f"{case}source",
        Dimension.PERSON: family.person,
    }
    return paths.get(dimension)


def _labels(dimension: Dimension, keys: set[Any]) -> dict[Any, str]:
    ids = [k for k in keys if k is not None]
    if dimension in (Dimension.TOWN, Dimension.VILLAGE, Dimension.GRID):
        return {r.pk: r.name for r in Region.objects.filter(pk__in=ids)}
    if dimension == Dimension.ORG:
        return {o.pk: o.name for o in Organisation.objects.filter(pk__in=ids)}
    if dimension in (Dimension.CATEGORY, Dimension.MAJOR):
        return {c.pk: str(c) for c in Category.objects.filter(pk__in=ids).select_related("parent")}
    if dimension == Dimension.SOURCE:
        return {k: str(Source(k).label) for k in ids if k in Source.values}
    if dimension == Dimension.PERSON:
        return {u.pk: u.name for u in User.objects.filter(pk__in=ids)}
    return {}


# ---------------------------------------------------------------- scope and filters


@dataclass(frozen=True)
class KpiFilters:
    region: str | None = None
    org: str | None = None
    category: str | None = None
    source: str | None = None

    def check(self) -> None:
        """Each filter names something that exists: a misspelt code would otherwise give a
        report of zeros that looks like a real one."""
        if self.region and not Region.objects.filter(code=self.region).exists():
            raise Invalid("kpi_region_invalid", str(_("未知的区域：%s")) % self.region)
        if self.org and not Organisation.objects.filter(code=self.org).exists():
            raise Invalid("kpi_org_invalid", str(_("未知的单位：%s")) % self.org)
        if self.category and not Category.objects.filter(full_code=self.category).exists():
            raise Invalid("kpi_category_invalid", str(_("未知的类别：%s")) % self.category)
        if self.source and self.source not in Source.values:
            raise Invalid("kpi_source_invalid", str(_("未知的来源：%s")) % self.source)


@dataclass(frozen=True)
class Scope:
    """What the user may evaluate: areas (centre roles) and organisations (unit roles)."""

    everything: bool = False
    regions: tuple[Region, ...] = ()
    organisations: tuple[int, ...] = ()

    def q(self, family: Family) -> Q:
        if self.everything:
            return Q()
        case = CASE_PATH[family.base]
        q = Q(pk__in=[])
        for region in self.regions:
            q |= area_q(region, prefix=case)
        if self.organisations:
            q |= Q(**{f"{family.org_path()}__in": self.organisations})
        return q


def scope_for(user: User) -> Scope:
    if user.is_superuser:
        return Scope(everything=True)
    regions, orgs = [], []
    for membership in memberships_of(user):
        if membership.role in CENTRE_ROLES:
            regions.append(membership.region)
        elif membership.role in UNIT_ROLES and membership.organisation_id:
            orgs.append(membership.organisation_id)
    if not regions and not orgs:
        raise Forbidden("kpi_not_allowed", str(_("您的角色无权查看考核指标")))
    return Scope(regions=tuple(regions), organisations=tuple(orgs))


def _filter_q(filters: KpiFilters, family: Family) -> Q:
    case = CASE_PATH[family.base]
    q = Q()
    if filters.region:
        region = Region.objects.filter(code=filters.region).first()
        q &= area_q(region, prefix=case) if region else Q(pk__in=[])
    if filters.org:
        q &= Q(**{f"{family.org_path()}__code": filters.org})
    if filters.category:
        q &= Q(**{f"{case}category__full_code": filters.category}) | Q(
            **{f"{case}category__parent__full_code": filters.category}
        )
    if filters.source:
        q &= Q(**{f"{case}source": filters.source})
    return q


# ---------------------------------------------------------------- computing


@dataclass(frozen=True)
class Value:
    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        if not self.denominator:
            return None
        return round(self.numerator / self.denominator, 4)


@dataclass
class Row:
    key: Any
    label: str
    values: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    period: Period
    group_by: Dimension
    indicators: list[Indicator]
    rows: list[Row]


def _until(period: Period, now: datetime) -> datetime:
    return min(period.end, now)


def family_rows(
    family: Family,
    scope: Scope,
    period: Period,
    filters: KpiFilters,
    until: datetime,
    *,
    cycles: bool = False,
) -> QuerySet[Any]:
    """The rows of a family in the period, within scope and filters; with `cycles`, the closed
    cycles of reopened cases instead (a family with `cycles` only)."""
    anchor = {f"{family.anchor}__gte": period.start, f"{family.anchor}__lt": period.end}
    model = CaseCycle if cycles else MODELS[family.base]
    return (
        model._default_manager.filter(**anchor)
        .filter(family.scope(until))
        .filter(scope.q(family))
        .filter(_filter_q(filters, family))
    )


def indicators_for(codes: list[str] | None = None, role: str | None = None) -> list[Indicator]:
    """The indicators named, or those of a role (考核对象), or all; not both a role and names:
    one would silently override the other."""
    if role:
        if role not in ROLE_INDICATORS:
            raise Invalid("kpi_role_invalid", str(_("未知的考核对象")))
        if codes:
            raise Invalid("kpi_role_and_indicators", str(_("考核对象和指标只能指定其一")))
        codes = ROLE_INDICATORS[role]
    unknown = [c for c in codes or [] if c not in INDICATORS]
    if unknown:
        raise Invalid("kpi_indicator_invalid", str(_("未知的指标：%s")) % "、".join(unknown))
    return [INDICATORS[c] for c in codes] if codes else list(INDICATORS.values())


def compute(
    *,
    scope: Scope,
    period: Period,
    indicators: list[Indicator],
    group_by: Dimension = Dimension.NONE,
    filters: KpiFilters | None = None,
    now: datetime | None = None,
    rollups: bool = True,
) -> Report:
    """The report. With `rollups` (and a report the rollups can answer: see `rollup_plan`) the
    settled cases come from their per-day sums and the rest from their rows; without, every
    number is computed from the rows. The numbers are the same."""
    filters = filters or KpiFilters()
    until = _until(period, now or clock.now())
    plan = rollup_plan(group_by, scope, filters) if rollups else None
    jobs: list[Callable[[], list[tuple[Any, dict[str, Value]]]]] = []
    for family_code in dict.fromkeys(i.family for i in indicators):
        family = FAMILIES[family_code]
        members = [i for i in indicators if i.family == family_code]
        path = None if group_by == Dimension.NONE else dimension_path(group_by, family)
        if group_by != Dimension.NONE and path is None:
            continue  # the family has no such field (no person is behind 结案率, say)
        jobs.append(partial(_aggregate, family, members, path, scope, period, filters, until, plan))
    rows: dict[Any, Row] = {}
    for results in _run(jobs):
        for key, values in results:
            rows.setdefault(key, Row(key=key, label="")).values.update(values)
    labels = _labels(group_by, set(rows))
    for key, row in rows.items():
        row.label = labels.get(key, str(_("全部")) if group_by == Dimension.NONE else "—")
    ordered = sorted(rows.values(), key=lambda r: (r.key is None, r.label, str(r.key)))
    return Report(period, group_by, indicators, ordered)


_Job = Callable[[], list[tuple[Any, dict[str, Value]]]]


def _run(jobs: list[_Job]) -> list[list[tuple[Any, dict[str, Value]]]]:
    """The family aggregates, concurrently on PostgreSQL (each in its own connection, so the
    server works on several at once), in order elsewhere. Inside a transaction they run in its
    connection: other connections would not see its uncommitted rows."""
    workers = concurrency(len(jobs))
    if workers < 2:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kpi") as pool:
        return list(pool.map(_in_own_connection, jobs))


def concurrency(jobs: int) -> int:
    """How many family queries run at once: 1 but on PostgreSQL outside a transaction."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return max(1, min(jobs, int(getattr(settings, "KPI_CONCURRENCY", 4))))


def _in_own_connection(job: _Job) -> list[tuple[Any, dict[str, Value]]]:
    try:
        return job()
    finally:
        connection.close()  # this thread's connection; the thread ends with the report


def _aggregate(
    family: Family,
    members: list[Indicator],
    path: str | None,
    scope: Scope,
    period: Period,
    filters: KpiFilters,
    until: datetime,
    plan: RollupPlan | None = None,
) -> list[tuple[Any, dict[str, Value]]]:
    """One query for the family: a counter per distinct condition (indicators share most of
    theirs — four have the same denominator — so each is evaluated once per row)."""
    counts: dict[str, Any] = {}
    aliases: dict[Q, str] = {}
    columns: dict[str, int] = {}  # counter alias → rollup column
    parts: dict[str, tuple[str, str]] = {}
    layout = ROLLUP_LAYOUTS[family.code]

    def counter(condition: Q, column: int) -> str:
        condition = _conjunction(condition)
        if condition not in aliases:
            aliases[condition] = alias = f"c{len(aliases)}"
            # Counting the anchor (never null in the period) keeps the query in the index.
            counts[alias] = Count(family.anchor, filter=condition)
            columns[alias] = column
        elif columns[aliases[condition]] != column:
            raise ValueError(f"{family.code}: a counter with two rollup columns")
        return aliases[condition]

    for indicator in members:
        den = indicator.denominator(until)
        n, d = layout.parts[indicator.code]
        parts[indicator.code] = (
            counter(den & indicator.numerator(until), n),
            counter(den, d),
        )
    qs = family_rows(family, scope, period, filters, until)
    cycles = (
        family_rows(family, scope, period, filters, until, cycles=True) if family.cycles else None
    )
    with _aggregate_settings():
        if plan is not None or cycles is not None:
            sources = Parts(qs, cycles, plan)
            results = _in_one_statement(family, sources, path, counts, columns, period, until)
        elif path:
            results = [(r[path], r) for r in qs.values(path).annotate(**counts)]
        else:
            results = [(None, qs.aggregate(**counts))]
    return [
        (key, {code: Value(result[n], result[d]) for code, (n, d) in parts.items()})
        for key, result in results
    ]


@dataclass(frozen=True)
class RollupPlan:
    """How a report reads the rollups: grouped by town or not, and the rollup rows in scope."""

    by_town: bool
    where: Q


def rollup_plan(group_by: Dimension, scope: Scope, filters: KpiFilters) -> RollupPlan | None:
    """The plan when the rollups can answer the report: the whole or by town; scope and region
    filter at city or town level; no organisation, category or source (scope or filter). None
    otherwise: the report is computed from the rows."""
    if group_by not in (Dimension.NONE, Dimension.TOWN):
        return None
    if scope.organisations or filters.org or filters.category or filters.source:
        return None
    where = Q()
    if not scope.everything:
        where = Q(pk__in=[])
        for region in scope.regions:
            area = _rollup_region(region)
            if area is None:
                return None
            where |= area
    if filters.region:
        found = Region.objects.filter(code=filters.region).first()
        q = _rollup_region(found) if found else Q(pk__in=[])
        if q is None:
            return None
        where &= q
    return RollupPlan(group_by == Dimension.TOWN, where)


def _rollup_region(region: Region) -> Q | None:
    if region.level == Level.CITY:
        return Q(city=region.pk)
    if region.level == Level.TOWN:
        return Q(town=region.pk)
    return None


def _cutoff(until: datetime) -> datetime:
    """The local midnight on or before the evaluation instant: the rollup rows that settled
    before it are read; the other rows are computed directly."""
    return _midnight(until.astimezone(SHANGHAI).date())


def unrolled(family: Family, cutoff: datetime) -> Q:
    """The family's rows a report with this cutoff computes directly: their case is not rolled,
    or they settled on or after the cutoff. Every row carries its case's `kpi_settled_at` (the
    latest instant of all its families: no row settles after it), so its index finds both."""
    late = Q()
    for name in SETTLE_FIELDS[family.code]:
        late |= Q(**{f"{name}__gte": cutoff})
    pending = Q(kpi_settled_at__isnull=True)
    # The first term is implied by the second; spelt out, the index on kpi_settled_at answers it.
    return (pending | Q(kpi_settled_at__gte=cutoff)) & (pending | late)


@dataclass(frozen=True)
class Parts:
    """Where a family's numbers come from: its rows (the case, clock or dispatch rows), the
    closed cycles of reopened cases (families with `cycles`) and the rollups (with a plan)."""

    rows: QuerySet[Any]
    cycles: QuerySet[Any] | None
    plan: RollupPlan | None


def _grouped(qs: QuerySet[Any], path: str | None, counts: dict[str, Any]) -> QuerySet[Any]:
    # Grouped by a constant, a part is one row even when it has none (as `aggregate`).
    key = F(path) if path else V(None, output_field=IntegerField())
    return qs.values(_k=key).annotate(**counts).order_by()


def _in_one_statement(
    family: Family,
    parts: Parts,
    path: str | None,
    counts: dict[str, Any],
    columns: dict[str, int],
    period: Period,
    until: datetime,
) -> list[tuple[Any, dict[str, int]]]:
    """The rows computed directly, the rollup sums and the closed cycles, in one statement
    (`UNION ALL`): one snapshot, so a case the worker rolls meanwhile is counted once, by one
    side or the other, and so is a case reopened meanwhile (as a closed case or as its cycle)."""
    cutoff = _cutoff(until)
    selected = [
        _grouped(
            parts.rows.filter(unrolled(family, cutoff)) if parts.plan else parts.rows, path, counts
        )
    ]
    if parts.cycles is not None:
        selected.append(_grouped(parts.cycles, path, counts))
    if parts.plan is not None:
        selected.append(_rolled(family, parts.plan, counts, columns, period, cutoff))
    return _union(selected, list(counts), path)


def _rolled(
    family: Family,
    plan: RollupPlan,
    counts: dict[str, Any],
    columns: dict[str, int],
    period: Period,
    cutoff: datetime,
) -> QuerySet[Any]:
    """The rollup sums of the rows that settled before the cutoff, by the report's key."""
    sums = {alias: Sum(f"n{column}") for alias, column in columns.items()}
    key = NullIf(F("town"), V(0)) if plan.by_town else V(None, output_field=IntegerField())
    return (
        KpiRollup.objects.filter(
            plan.where,
            family=family.code,
            day__gte=period.start.date(),
            day__lt=period.end.date(),
            settled__lt=cutoff.date(),
        )
        .values(_k=key)
        .annotate(_rows=Sum("n0"), **sums)
        # HAVING: a group some case is in (un-rolling leaves rows of zeros behind).
        .filter(**{"_rows__gt": 0})
        .values("_k", *counts)
        .order_by()
    )


def _union(
    selected: list[QuerySet[Any]], aliases: list[str], path: str | None
) -> list[tuple[Any, dict[str, int]]]:
    """The parts' counters summed by key, from one `UNION ALL` statement."""
    selects: list[str] = []
    params: list[Any] = []
    for part in selected:
        try:
            sql, part_params = part.query.sql_with_params()
        except EmptyResultSet:  # a filter nothing can meet (an unknown region, say)
            continue
        selects.append(f"SELECT * FROM ({sql}) p{len(selects)}")
        params.extend(part_params)
    merged: dict[Any, dict[str, int]] = {}
    if path is None:  # as `aggregate`: one row, zeros when there is nothing
        merged[None] = dict.fromkeys(aliases, 0)
    if selects:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects), params)
            for key, *values in cursor.fetchall():
                row = merged.setdefault(key, dict.fromkeys(aliases, 0))
                for alias, value in zip(aliases, values, strict=True):
                    row[alias] += int(value or 0)
    return list(merged.items())


# PostgreSQL settings of a family aggregate, for its transaction only. JIT compiles the
# expressions of every plan the planner thinks large (a year of clocks or dispatch records joined
# to their cases, grouped by town: 0.3-0.4 s of compilation per query) and never pays back on
# these scans; that hash join also spills to disk with the default work_mem (4 MB).
AGGREGATE_SETTINGS = {"jit": "off", "work_mem": "64MB"}


@contextmanager
def _aggregate_settings() -> Iterator[None]:
    """AGGREGATE_SETTINGS for the statements inside: SET LOCAL in a transaction of their own, or
    in a savepoint of the caller's, and then the previous values are put back (releasing a
    savepoint would keep them until the caller's transaction ends). Nothing elsewhere."""
    if connection.vendor != "postgresql":
        yield
        return
    names = list(AGGREGATE_SETTINGS)
    nested = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(names)), names)
        previous = cursor.fetchone()
        _set_local(cursor, dict(zip(names, AGGREGATE_SETTINGS.values(), strict=True)))
        yield
        if nested:
            _set_local(cursor, dict(zip(names, previous, strict=True)))


def _set_local(cursor: Any, values: dict[str, str]) -> None:
    cursor.execute(
        "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(values)),
        [item for pair in values.items() for item in pair],
    )


def _conjunction(condition: Q) -> Q:
    """The condition with its nested ANDs flattened and each term once: a numerator is its
    denominator AND more (`_closed & (_closed & rework_count > 0)`), and PostgreSQL evaluates
    every repeated term on every row of the year. Same truth value (AND is associative and
    idempotent, also over NULL), fewer comparisons."""
    terms: list[Any] = []

    def add(node: Any) -> None:
        if isinstance(node, Q) and node.connector == Q.AND and not node.negated:
            for child in node.children:
                add(child)
        elif node not in terms:
            terms.append(node)

    add(condition)
    return Q(*terms)


ROLLUP_LAYOUTS = {code: _layout(code) for code in FAMILIES}


# ---------------------------------------------------------------- drill-down


class Part(StrEnum):
    NUMERATOR = "numerator"
    DENOMINATOR = "denominator"


def drilldown(
    *,
    scope: Scope,
    period: Period,
    indicator: Indicator,
    part: Part,
    group_by: Dimension = Dimension.NONE,
    key: str | None = None,
    filters: KpiFilters | None = None,
    now: datetime | None = None,
) -> CaseQuerySet:
    """The cases behind one number of a report."""
    filters = filters or KpiFilters()
    family = indicator.fam
    until = _until(period, now or clock.now())
    path = None if group_by == Dimension.NONE else dimension_path(group_by, family)

    def behind(rows: QuerySet[Any]) -> QuerySet[Any]:
        rows = rows.filter(indicator.denominator(until))
        if part == Part.NUMERATOR:
            rows = rows.filter(indicator.numerator(until))
        if path is None:
            return rows
        if key in (None, ""):
            return rows.filter(**{f"{path}__isnull": True})
        return rows.filter(**{path: key})

    rows = behind(family_rows(family, scope, period, filters, until))
    ids = Q(pk__in=rows.values("pk" if family.base == Base.CASE else "case_id"))
    if family.cycles:  # a reopened case is behind the numbers of its closed cycles too
        cycles = behind(family_rows(family, scope, period, filters, until, cycles=True))
        ids |= Q(pk__in=cycles.values("case_id"))
    return (
        Case.objects.filter(ids)
        .select_related("category__parent", "town", "assigned_org")
        .order_by("due_at", "id")
    )
