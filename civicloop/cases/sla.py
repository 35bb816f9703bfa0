"""Deadlines: time limits as data, stage clocks in working time, and what each action does to
them (docs/sla.md).

The services call `on_action(case, name, at=…, by=…)` after their compare-and-swap succeeded;
it starts, stops, pauses, resumes or re-times the case's clocks (`CaseClock`) and returns the
evaluation facts to freeze on the case (`due_at`, `disposed_at`, `sla_level`, …). The sweep
(`cases.sweep`) raises levels when thresholds pass; services only ever lower them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from civicloop.cases.models import (
    Case,
    CaseClock,
    Category,
    LimitUnit,
    SlaLevel,
    SlaRevision,
    Stage,
    TimeLimit,
    TimeLimitVersion,
    Urgency,
    WorkCalendarDay,
    WorkingPeriod,
)
from civicloop.lib import clock as clock_
from civicloop.lib import rows
from civicloop.lib.workcal import DEFAULT_PERIODS, WorkCalendar, calendar_from_days
from civicloop.regions.models import LEVEL_DEPTH, Level


@dataclass(frozen=True)
class Limit:
    value: int
    unit: LimitUnit

    def duration(self, calendar: WorkCalendar) -> timedelta:
        if self.unit == LimitUnit.WORKING_DAYS:
            return calendar.working_days(self.value)
        return timedelta(hours=self.value)


@dataclass(frozen=True)
class Policy:
    warn_percent: int = 80
    serious_percent: int = 200
    pause_while_returned: bool = True


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class _Rule:
    category_id: int | None
    urgency: str
    region_id: int | None
    region_depth: int
    limit: Limit


# ---------------------------------------------------------------- configuration


@dataclass
class Config:
    """The working calendar and the rules, loaded once per process and reloaded when their
    revision (`SlaRevision`, renewed by triggers on their tables) moves: another process may
    edit them. `fingerprint` holds the values of `FINGERPRINT_PROBES` it was loaded at."""

    fingerprint: tuple[Any, ...]
    calendar: WorkCalendar
    # (effective_from, id, policy) of every version, the latest first.
    versions: list[tuple[datetime, int, Policy]]
    _rules: dict[int, dict[str, list[_Rule]]] = field(default_factory=dict)

    def rules(self, version_id: int, stage: Stage) -> list[_Rule]:
        if version_id not in self._rules:
            self._rules[version_id] = _load_rules(version_id)
        return self._rules[version_id].get(stage, [])

    def policy(self, version_id: int | None) -> Policy:
        return next((p for _at, pk, p in self.versions if pk == version_id), DEFAULT_POLICY)

    def version_at(self, at: datetime) -> int | None:
        return next((pk for effective, pk, _p in self.versions if effective <= at), None)


_lock = threading.Lock()
_config: Config | None = None


# The configuration's freshness as scalar SQL (the table name from model metadata, never from
# input), so that a caller can read it in a statement it sends anyway (`services.case_report`
# reads it with the placement): the revision row that triggers renew on every write to the
# configuration's tables (`SlaRevision`). One index probe, whatever the size of the calendar.
FINGERPRINT_PROBES: tuple[str, ...] = (
    f"(SELECT value FROM {SlaRevision._meta.db_table} WHERE id = 1)",
)


def _fingerprint() -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(FINGERPRINT_PROBES)}")
        return tuple(cursor.fetchone() or ())


def config(fingerprint: tuple[Any, ...] | None = None) -> Config:
    """The configuration, reloaded if its tables changed. `fingerprint`: the values of
    `FINGERPRINT_PROBES` the caller has just read in its transaction (saves a query)."""
    global _config
    if fingerprint is None:
        fingerprint = _fingerprint()
    current = _config
    if current is not None and current.fingerprint == fingerprint:
        return current
    with _lock:
        _config = Config(fingerprint, load_calendar(), _load_versions())
        return _config


def _load_versions() -> list[tuple[datetime, int, Policy]]:
    rows = TimeLimitVersion.objects.order_by("-effective_from", "-id")
    return [
        (v.effective_from, v.pk, Policy(v.warn_percent, v.serious_percent, v.pause_while_returned))
        for v in rows
    ]


def load_calendar() -> WorkCalendar:
    periods = list(WorkingPeriod.objects.order_by("start").values_list("start", "end"))
    days = WorkCalendarDay.objects.values_list("day", "is_working")
    return calendar_from_days(days, periods or DEFAULT_PERIODS)


def work_calendar() -> WorkCalendar:
    return config().calendar


def _load_rules(version_id: int) -> dict[str, list[_Rule]]:
    rules: dict[str, list[_Rule]] = {}
    rows = TimeLimit.objects.filter(version_id=version_id).select_related("region")
    for row in rows:
        depth = LEVEL_DEPTH[Level(row.region.level)] if row.region else -1
        rule = _Rule(
            row.category_id,
            row.urgency,
            row.region_id,
            depth,
            Limit(row.value, LimitUnit(row.unit)),
        )
        rules.setdefault(row.stage, []).append(rule)
    return rules


def current_version_id(at: datetime | None = None) -> int | None:
    """The version in force at `at` (now): the one new cases are pinned to."""
    return config().version_at(at or clock_.now())


def current_version(at: datetime | None = None) -> TimeLimitVersion | None:
    version_id = current_version_id(at)
    return TimeLimitVersion.objects.filter(pk=version_id).first() if version_id else None


# ---------------------------------------------------------------- limits


def _category_default(category: Category, urgency: str) -> Limit | None:
    if urgency == Urgency.URGENT:
        value, unit = category.limit_urgent, category.limit_urgent_unit
    else:
        value, unit = category.limit_normal, category.limit_normal_unit
    return Limit(value, LimitUnit(unit)) if value else None


def limit_for(case: Case, stage: Stage, cfg: Config | None = None) -> Limit | None:
    """The most specific rule of the case's version for the stage; the category's own
    处置时限 when the version has none for the disposal stage."""
    cfg = cfg or config()
    category = case.category
    if case.sla_version_id is not None:
        specificity = {case.category_id: 2, category.parent_id: 1, None: 0}
        regions = {case.city_id, case.town_id, case.village_id, case.grid_id}
        matching = [
            r
            for r in cfg.rules(case.sla_version_id, stage)
            if r.category_id in specificity
            and r.urgency in ("", case.urgency)
            and (r.region_id is None or r.region_id in regions)
        ]
        if matching:
            best = max(
                matching,
                key=lambda r: (specificity[r.category_id], bool(r.urgency), r.region_depth),
            )
            return best.limit
    if stage == Stage.DISPOSE:
        return _category_default(category, case.urgency)
    return None


# ---------------------------------------------------------------- clock arithmetic


def _thresholds(clock: CaseClock, calendar: WorkCalendar, policy: Policy) -> None:
    if clock.limit_seconds is None:
        clock.warn_at = clock.serious_at = None
        return
    limit = timedelta(seconds=clock.limit_seconds)
    paused = timedelta(seconds=clock.paused_seconds)
    clock.warn_at = calendar.add(clock.started_at, limit * policy.warn_percent / 100 + paused)
    clock.serious_at = calendar.add(clock.started_at, limit * policy.serious_percent / 100 + paused)
    if clock.due_at is None:
        clock.due_at = calendar.add(clock.started_at, limit + paused)


def level_at(clock: CaseClock, at: datetime) -> int:
    level = SlaLevel.NORMAL
    for threshold, reached in (
        (clock.warn_at, SlaLevel.WARNING),
        (clock.due_at, SlaLevel.OVERDUE),
        (clock.serious_at, SlaLevel.SERIOUS),
    ):
        if threshold is not None and threshold <= at:
            level = reached
    return int(level)


def threshold_of(clock: CaseClock, level: int) -> datetime | None:
    return {1: clock.warn_at, 2: clock.due_at, 3: clock.serious_at}.get(level)


def _settle(clock: CaseClock, at: datetime) -> None:
    """Lower the level if the thresholds moved away; the sweep raises it (and notifies)."""
    clock.level = min(clock.level, level_at(clock, at))
    running = clock.stopped_at is None and clock.paused_at is None
    clock.next_level_at = threshold_of(clock, clock.level + 1) if running else None


def _retime(
    clock: CaseClock,
    cfg: Config,
    policy: Policy,
    at: datetime,
    *,
    due: datetime | None = None,
) -> None:
    clock.due_at = due
    _thresholds(clock, cfg.calendar, policy)
    _settle(clock, at)


# ---------------------------------------------------------------- operations on a case


@dataclass
class _Ctx:
    case: Case
    at: datetime
    by: Any
    cfg: Config
    policy: Policy
    facts: dict[str, Any] = field(default_factory=dict)
    fresh: bool = False  # a case just created has no clocks yet
    # New clocks of a case not inserted yet: the caller inserts them with the case.
    unsaved: list[CaseClock] | None = None
    _clocks: list[CaseClock] | None = None

    def clocks(self) -> list[CaseClock]:
        """The case's clocks, read once per action (the case row is locked by our CAS)."""
        if self._clocks is None:
            self._clocks = (
                [] if self.fresh else list(CaseClock.objects.filter(case=self.case).order_by("id"))
            )
        return self._clocks

    def running(self, stage: Stage) -> CaseClock | None:
        return next((c for c in self.clocks() if c.stage == stage and c.stopped_at is None), None)

    def latest(self, stage: Stage) -> CaseClock | None:
        return next((c for c in reversed(self.clocks()) if c.stage == stage), None)


@dataclass
class Carry:
    """What the actions of one service call share, in its one transaction: the configuration
    read for the first action, and the case's clocks as the last action left them. The case row
    is locked by the first compare-and-swap until the commit, and the sweep cannot commit a
    raised level without that lock (it bumps the case's version in the same transaction), so
    the clocks read once stay current, as they do within one action."""

    cfg: Config | None = None
    clocks: list[CaseClock] | None = None


Op = Callable[[_Ctx], None]


def _start(stage: Stage) -> Op:
    def op(ctx: _Ctx) -> None:
        old = ctx.running(stage)
        if old is not None:  # a new cycle replaces a clock left running (e.g. reopen)
            _stop_clock(old, ctx, cancel=True)
        limit = limit_for(ctx.case, stage, ctx.cfg)
        seconds = int(limit.duration(ctx.cfg.calendar).total_seconds()) if limit else None
        clock = CaseClock(case=ctx.case, stage=stage, started_at=ctx.at, limit_seconds=seconds)
        _retime(clock, ctx.cfg, ctx.policy, ctx.at)
        if ctx.unsaved is None:
            rows.insert(clock)
        else:
            ctx.unsaved.append(clock)
        ctx.clocks().append(clock)

    return op


def _stop_clock(clock: CaseClock, ctx: _Ctx, *, cancel: bool) -> None:
    if clock.paused_at is not None:
        clock.pauses = [*clock.pauses, [clock.paused_at.isoformat(), ctx.at.isoformat()]]
        cancel = True
    clock.stopped_at = ctx.at
    clock.stopped_by = ctx.by
    clock.on_time = None if cancel or clock.due_at is None else ctx.at <= clock.due_at
    clock.next_level_at = None
    clock.save()


def _stop(stage: Stage, *, cancel: bool = False) -> Op:
    def op(ctx: _Ctx) -> None:
        clock = ctx.running(stage)
        if clock is not None:
            _stop_clock(clock, ctx, cancel=cancel)

    return op


def _pause(stage: Stage, *, when: Callable[[Policy], bool] = lambda p: True) -> Op:
    def op(ctx: _Ctx) -> None:
        clock = ctx.running(stage)
        if clock is None or clock.paused_at is not None or not when(ctx.policy):
            return
        clock.paused_at = ctx.at
        clock.next_level_at = None
        clock.save()

    return op


def _resume(stage: Stage) -> Op:
    def op(ctx: _Ctx) -> None:
        clock = ctx.running(stage)
        if clock is None or clock.paused_at is None:
            return
        calendar = ctx.cfg.calendar
        paused = calendar.elapsed(clock.paused_at, ctx.at)
        clock.paused_seconds += int(paused.total_seconds())
        clock.pauses = [*clock.pauses, [clock.paused_at.isoformat(), ctx.at.isoformat()]]
        clock.paused_at = None
        due = calendar.add(clock.due_at, paused) if clock.due_at else None
        _retime(clock, ctx.cfg, ctx.policy, ctx.at, due=due)
        clock.save()

    return op


def _rework(ctx: _Ctx) -> None:
    """A failed check sends the case back: the disposal clock runs again, towards the original
    deadline, or towards a new one when the version has a 返工 limit."""
    clock = ctx.latest(Stage.DISPOSE)
    if clock is None:
        return
    clock.stopped_at = None
    clock.stopped_by = None
    clock.on_time = None
    limit = limit_for(ctx.case, Stage.REWORK, ctx.cfg)
    if limit is None:
        _retime(clock, ctx.cfg, ctx.policy, ctx.at, due=clock.due_at)
    else:
        clock.started_at, clock.paused_seconds, clock.pauses = ctx.at, 0, []
        clock.limit_seconds = int(limit.duration(ctx.cfg.calendar).total_seconds())
        _retime(clock, ctx.cfg, ctx.policy, ctx.at)
    clock.save()
    ctx.facts["disposed_at"] = None


def _relimit(stage: Stage) -> Op:
    """The category or urgency changed: the running clock keeps its start, with the new limit."""

    def op(ctx: _Ctx) -> None:
        clock = ctx.running(stage)
        if clock is None:
            return
        limit = limit_for(ctx.case, stage, ctx.cfg)
        clock.limit_seconds = (
            int(limit.duration(ctx.cfg.calendar).total_seconds()) if limit else None
        )
        _retime(clock, ctx.cfg, ctx.policy, ctx.at)
        clock.save()

    return op


def _fact(name: str, value: Callable[[_Ctx], Any]) -> Op:
    def op(ctx: _Ctx) -> None:
        ctx.facts[name] = value(ctx)

    return op


def _intake_decided(ctx: _Ctx) -> None:
    """The first intake decision freezes whether the case was taken up in time (响应)."""
    clock = ctx.latest(Stage.INTAKE)
    if ctx.case.intake_on_time is None and clock is not None and clock.stopped_at == ctx.at:
        ctx.facts["intake_on_time"] = clock.on_time


def _suspension_started(ctx: _Ctx) -> list[list[str | None]]:
    return [*ctx.case.suspended_intervals, [ctx.at.isoformat(), None]]


def _suspension_ended(ctx: _Ctx) -> list[list[str | None]]:
    intervals = [list(i) for i in ctx.case.suspended_intervals]
    if intervals and intervals[-1][1] is None:
        intervals[-1][1] = ctx.at.isoformat()
    return intervals


S = Stage
_OPS: dict[str, tuple[Op, ...]] = {
    "report": (_start(S.INTAKE),),
    "submit_draft": (_start(S.INTAKE),),
    "reinstate": (_start(S.INTAKE),),
    "reopen": (
        _start(S.INTAKE),
        _fact("on_time", lambda c: None),
        _fact("disposed_at", lambda c: None),
    ),
    "request_verification": (_start(S.VERIFY),),
    "confirm_on_site": (_stop(S.VERIFY),),
    "file": (
        _stop(S.VERIFY),
        _stop(S.INTAKE),
        _intake_decided,
        _start(S.DISPOSE),
        _fact("disposed_at", lambda c: None),
    ),
    "merge": (_stop(S.VERIFY), _stop(S.INTAKE), _intake_decided),
    "reject": (
        _stop(S.VERIFY),
        _stop(S.INTAKE),
        _intake_decided,
        _stop(S.CLAIM, cancel=True),
        _stop(S.DISPOSE, cancel=True),
    ),
    "dispatch": (_resume(S.DISPOSE), _start(S.CLAIM)),
    "recall": (_stop(S.CLAIM, cancel=True),),
    "return": (
        _stop(S.CLAIM),
        _pause(S.DISPOSE, when=lambda p: p.pause_while_returned),
        _fact("was_returned", lambda c: True),
    ),
    "claim": (_stop(S.CLAIM),),
    "approve_suspension": (
        _pause(S.DISPOSE),
        _fact("suspended_intervals", _suspension_started),
    ),
    "resume": (_resume(S.DISPOSE), _fact("suspended_intervals", _suspension_ended)),
    "submit": (_stop(S.DISPOSE), _start(S.CHECK), _fact("disposed_at", lambda c: c.at)),
    "check_pass": (_stop(S.CHECK),),
    "check_fail": (_stop(S.CHECK), _rework),
    "reclassify": (_relimit(S.INTAKE), _relimit(S.VERIFY), _relimit(S.DISPOSE)),
}


def on_action(
    case: Case,
    name: str,
    *,
    at: datetime,
    by: Any = None,
    fresh: bool = False,
    cfg: Config | None = None,
    unsaved: list[CaseClock] | None = None,
    carry: Carry | None = None,
) -> dict[str, Any]:
    """Apply the action's clock operations; return the facts to store on the case. `cfg`: the
    configuration the caller already read in this transaction (saves checking it again).
    `unsaved` (a fresh case not inserted yet): new clocks go there instead of the database.
    `carry`: shared with the other actions of the same service call (read once, kept)."""
    ops = _OPS.get(name)
    if not ops:
        return {}
    ctx = _context(case, at, by, cfg or (carry.cfg if carry else None))
    ctx.fresh = fresh
    ctx.unsaved = unsaved
    if carry is not None:
        ctx._clocks = carry.clocks
    for op in ops:
        op(ctx)
    if carry is not None:
        carry.cfg, carry.clocks = ctx.cfg, ctx.clocks()
    return {**ctx.facts, **_derived(ctx)}


def extend(case: Case, *, until: datetime, at: datetime) -> dict[str, Any]:
    """An approved extension: the disposal deadline becomes `until`, the limit grows to match."""
    ctx = _context(case, at, None)
    clock = ctx.running(Stage.DISPOSE)
    if clock is not None:
        calendar = ctx.cfg.calendar
        worked = calendar.elapsed(clock.started_at, until) - timedelta(seconds=clock.paused_seconds)
        clock.limit_seconds = max(int(worked.total_seconds()), 0)
        _retime(clock, ctx.cfg, ctx.policy, at, due=until)
        clock.save()
    return _derived(ctx)


def _context(case: Case, at: datetime, by: Any, cfg: Config | None = None) -> _Ctx:
    cfg = cfg or config()
    return _Ctx(case=case, at=at, by=by, cfg=cfg, policy=cfg.policy(case.sla_version_id))


def _derived(ctx: _Ctx) -> dict[str, Any]:
    dispose = ctx.latest(Stage.DISPOSE)
    level = max((c.level for c in ctx.clocks() if c.stopped_at is None), default=0)
    facts: dict[str, Any] = {"sla_level": level}
    if dispose is not None:
        facts["due_at"] = dispose.due_at
    return facts


def closing_facts(case: Case) -> dict[str, Any]:
    """Frozen at close: on time when the accepted submission came by the deadline."""
    on_time = None
    if case.disposed_at is not None and case.due_at is not None:
        on_time = case.disposed_at <= case.due_at
    return {"on_time": on_time}
