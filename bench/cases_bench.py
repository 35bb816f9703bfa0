"""The case engine at city scale, on PostgreSQL: `python -m bench cases [--cases N]`.

1. Loads the Yiwu demo map, categories, organisations, people and rules, then generates N cases
   (1,000,000 by default) reported over the past year, with their events, stage clocks and
   dispatch records, written with COPY in batches. Deadlines are computed in working time on
   the same calendar as the engine. Cases whose journey reaches the present stay open.
2. Measures, in one process through Django's full request stack (test client, session auth):
   case creation and one transition (立案) through the API against a bare JSON view (the
   ratio of their throughputs), the outbox worker delivering their events, the dispatcher's
   queue (p50/p95), the SLA sweep over all open cases (then the worker delivering its
   events), the KPI rollup worker, and the KPI report for the city-year (from the rollups,
   and computed directly, alternately). The configuration is production's:
   CASE_EVENT_DELIVERY=worker, so requests and the sweep only write events.

The database is `civicloop_bench` on the local server unless --url says otherwise; the bench
refuses SQLite. A second run reuses the generated cases when there are enough of them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from civicloop.lib.workcal import WorkCalendar

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/civicloop_bench"
BATCH = 20_000
YEAR = timedelta(days=365)


# ---------------------------------------------------------------- setup


def _ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if name in ("", "civicloop", "postgres"):
        raise SystemExit(f"refusing to use database {name!r}: give the bench its own database")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup(url: str) -> None:
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the case benchmark needs PostgreSQL (--url postgres://…)")
    _ensure_database(url)
    os.environ["DATABASE_URL"] = url
    # The production configuration: requests only write case events, the outbox worker
    # (`civicloop notify`) delivers them; measured separately (measure_notify).
    os.environ["CASE_EVENT_DELIVERY"] = "worker"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings")
    import django
    from django.conf import settings

    django.setup()
    # A throwaway database: fast hashing for the few hundred demo accounts.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ROOT_URLCONF = "bench.cases_bench"
    # The SMS logging backend would print every message it records.
    logging.getLogger("civicloop.notifications.channels").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@dataclass
class World:
    now: datetime
    version_id: int
    grids: list[tuple[int, int, int, int, float, float]]  # grid, village, town, city, lat, lon
    categories: list[Any]
    org_for: dict[tuple[int, int], int]  # (category, town) → organisation
    staff: dict[tuple[str, int], int]  # (role, town) → user
    handlers: dict[int, int]  # organisation → user
    workers: dict[int, int]  # grid → grid worker
    residents: list[int]
    limits: dict[tuple[str, int, str, int], int | None] = field(default_factory=dict)


def load_world() -> World:
    from civicloop.accounts.demo import load_demo_organisations, load_demo_people
    from civicloop.cases.categories import categories_load_seed
    from civicloop.cases.demo_rules import load_demo_rules
    from civicloop.regions.demo import load_yiwu_regions

    load_yiwu_regions()
    categories_load_seed()
    load_demo_organisations()
    load_demo_people()
    rules = load_demo_rules()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    world = World(
        now=now,
        version_id=rules.version.pk,
        grids=_grids(),
        categories=_categories(),
        org_for=_routes(),
        staff=_staff(),
        handlers=_handlers(),
        workers=_workers(),
        residents=_residents(2000),
    )
    _limits(world)
    return world


def _grids() -> list[tuple[int, int, int, int, float, float]]:
    from civicloop.regions.models import Level, Region

    ids = dict(Region.objects.values_list("code", "pk"))
    grids = []
    for region in Region.objects.filter(level=Level.GRID).order_by("code"):
        city, town, village, _grid = region.ancestor_codes()[:4]
        if region.centre_lat is not None and region.centre_lon is not None:
            grids.append(
                (
                    region.pk,
                    ids[village],
                    ids[town],
                    ids[city],
                    region.centre_lat,
                    region.centre_lon,
                )
            )
    return grids


def _categories() -> list[Any]:
    from civicloop.cases.models import Category

    return list(Category.objects.filter(parent__isnull=False, is_active=True).order_by("pk"))


def _routes() -> dict[tuple[int, int], int]:
    from civicloop.cases.models import RoutingRule
    from civicloop.regions.models import Level, Region

    towns = list(Region.objects.filter(level=Level.TOWN).values_list("pk", flat=True))
    routes: dict[tuple[int, int], int] = {}
    for rule in RoutingRule.objects.filter(is_active=True):
        for town in [rule.region_id] if rule.region_id else towns:
            routes.setdefault((rule.category_id, town), rule.organisation_id)  # type: ignore[arg-type]
    return routes


def _staff() -> dict[tuple[str, int], int]:
    from civicloop.accounts.models import Membership, Role
    from civicloop.regions.models import Level

    roles = [Role.INTAKE_CLERK, Role.DISPATCHER, Role.SHIFT_LEAD, Role.VERIFIER]
    rows = Membership.objects.filter(role__in=roles, region__level=Level.TOWN).order_by("id")
    staff: dict[tuple[str, int], int] = {}
    for role, region, user in rows.values_list("role", "region_id", "user_id"):
        staff.setdefault((role, region), user)
    return staff


def _handlers() -> dict[int, int]:
    from civicloop.accounts.models import Membership, Role

    rows = Membership.objects.filter(role=Role.UNIT_HANDLER).order_by("id")
    handlers: dict[int, int] = {}
    for org, user in rows.values_list("organisation_id", "user_id"):
        handlers.setdefault(org, user)
    return handlers


def _workers() -> dict[int, int]:
    from civicloop.accounts.models import Membership, Role

    rows = Membership.objects.filter(role=Role.GRID_WORKER).values_list("region_id", "user_id")
    return dict(rows)


def _residents(count: int) -> list[int]:
    from civicloop.accounts.models import User

    existing = list(User.objects.filter(mobile__startswith="1340").values_list("pk", flat=True))
    if len(existing) >= count:
        return existing
    User.objects.bulk_create(
        User(mobile=f"1340{n:07d}", name=f"居民{n}", password="!")
        for n in range(len(existing), count)
    )
    return list(User.objects.filter(mobile__startswith="1340").values_list("pk", flat=True))


def _limits(world: World) -> None:
    """Every limit a generated case can need, from the engine itself (one call per combination)."""
    from civicloop.cases import sla
    from civicloop.cases.models import Case, Stage, Urgency

    towns = sorted({g[2] for g in world.grids})
    calendar = sla.work_calendar()
    for category in world.categories:
        for town in towns:
            for urgency in Urgency.values:
                case = Case(
                    category=category,
                    urgency=urgency,
                    town_id=town,
                    sla_version_id=world.version_id,
                )
                for stage in Stage.values:
                    limit = sla.limit_for(case, Stage(stage))
                    seconds = int(limit.duration(calendar).total_seconds()) if limit else None
                    world.limits[(stage, category.pk, urgency, town)] = seconds


# ---------------------------------------------------------------- working time, fast


class FastCalendar:
    """The engine's calendar flattened to sorted working periods (epoch seconds), so that adding
    working time is two binary searches. Checked against `WorkCalendar` before use."""

    def __init__(self, calendar: WorkCalendar, first: datetime, last: datetime) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.cum: list[float] = []
        self.cum_end: list[float] = []
        total = 0.0
        day = first.astimezone(calendar.tz).date()
        while day <= last.astimezone(calendar.tz).date():
            for start, end in calendar.periods_on(day):
                self.starts.append(start.timestamp())
                self.ends.append(end.timestamp())
                self.cum.append(total)
                total += end.timestamp() - start.timestamp()
                self.cum_end.append(total)
            day += timedelta(days=1)

    def worked(self, t: float) -> float:
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0.0
        return self.cum[i] + min(t, self.ends[i]) - self.starts[i]

    def add(self, t: float, seconds: float) -> float:
        if seconds <= 0:
            return t
        target = self.worked(t) + seconds
        j = bisect_left(self.cum_end, target)
        return self.starts[j] + (target - self.cum[j])

    def check(self, calendar: WorkCalendar, samples: int = 300) -> None:
        rng = random.Random(1)
        lo, hi = self.starts[0], self.ends[-1] - 90 * 86400
        for _ in range(samples):
            t = rng.uniform(lo, hi)
            seconds = rng.randrange(1, 30 * 7 * 3600)
            start = datetime.fromtimestamp(t, UTC)
            expected = calendar.add(start, timedelta(seconds=seconds)).timestamp()
            if abs(self.add(t, seconds) - expected) > 1e-3:
                raise AssertionError(f"fast calendar disagrees at {start} + {seconds}s")


# ---------------------------------------------------------------- one case's journey


SOURCES = [
    ("grid_worker", 0.45),
    ("resident", 0.22),
    ("hotline_12345", 0.20),
    ("volunteer", 0.06),
    ("leader", 0.03),
    ("department", 0.02),
    ("inspection", 0.02),
]
PUBLIC = {"grid_worker", "resident", "volunteer"}


def _ts(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


@dataclass
class Clock:
    stage: str
    started: float
    limit: int | None
    paused: float = 0.0
    pauses: list[list[str]] = field(default_factory=list)
    due: float | None = None
    stopped: float | None = None
    stopped_by: int | None = None
    on_time: bool | None = None


class Journey:
    """Builds the rows of one case by walking it through the loop until the present."""

    def __init__(self, gen: Generator, case_id: int, number: str, rng: random.Random) -> None:
        self.gen, self.w, self.cal, self.rng = gen, gen.world, gen.calendar, rng
        self.id, self.number = case_id, number
        self.events: list[tuple[Any, ...]] = []
        self.clocks: dict[str, Clock] = {}
        self.done_clocks: list[Clock] = []
        self.dispatches: list[list[Any]] = []
        self.facts: dict[str, Any] = {}
        self.state = "reported"
        self.ended = False

    # -- building blocks

    def happens(self, t: float) -> bool:
        """Whether a step at `t` has happened yet; the first one that has not ends the walk."""
        if self.ended or t > self.gen.now_ts:
            self.ended = True
            return False
        return True

    def event(
        self, t: float, type: str, actor: int | None, role: str, to: str = "", **kw: Any
    ) -> None:
        from_state = self.state
        if to:
            self.state = to
        data = kw.pop("data", {})
        self.events.append(
            (
                self.gen.next_id("event"),
                self.id,
                len(self.events) + 1,
                type,
                _ts(t),
                actor,
                role,
                kw.pop("org", None),
                from_state if to else "",
                to,
                kw.pop("reason", ""),
                "",
                kw.pop("public", True),
                json.dumps(data, ensure_ascii=False),
            )
        )

    def start(self, stage: str, t: float) -> None:
        limit = self.w.limits[(stage, self.category.pk, self.urgency, self.town)]
        clock = Clock(stage, t, limit)
        clock.due = self.cal.add(t, limit) if limit else None
        self.clocks[stage] = clock

    def stop(self, stage: str, t: float, by: int | None) -> None:
        clock = self.clocks.pop(stage, None)
        if clock is None:
            return
        clock.stopped, clock.stopped_by = t, by
        clock.on_time = None if clock.due is None else t <= clock.due
        self.done_clocks.append(clock)

    def after(self, t: float, stage: str, spread: float, late: float) -> float:
        """When a step of `stage` ends: mostly within the limit, `late` of the time beyond."""
        limit = self.w.limits[(stage, self.category.pk, self.urgency, self.town)] or 4 * 3600
        share = (
            self.rng.uniform(1.05, 2.5)
            if self.rng.random() < late
            else self.rng.uniform(0.05, spread)
        )
        return self.cal.add(t, limit * share)

    # -- the walk

    def walk(self) -> None:
        rng, w = self.rng, self.w
        grid, village, town, city, lat, lon = rng.choice(w.grids)
        self.grid, self.village, self.town, self.city = grid, village, town, city
        self.lat, self.lon = lat + rng.uniform(-0.002, 0.002), lon + rng.uniform(-0.002, 0.002)
        self.category = rng.choice(w.categories)
        self.urgency = "urgent" if rng.random() < 0.1 else "normal"
        self.source = rng.choices([s for s, _ in SOURCES], [p for _, p in SOURCES])[0]
        self.reported = self.gen.now_ts - rng.random() * YEAR.total_seconds()
        self.org = w.org_for.get((self.category.pk, town))
        self.staff = {role: w.staff.get((role, town)) for role in _ROLES}
        self.reporter, self.reporter_role = self._reporter()
        self.event(self.reported, "reported", self.reporter, self.reporter_role, "reported")
        self.start("intake", self.reported)
        self._intake()

    def _reporter(self) -> tuple[int, str]:
        if self.source == "grid_worker" and self.grid in self.w.workers:
            return self.w.workers[self.grid], "grid_worker"
        if self.source in PUBLIC:
            self.source = "resident" if self.source == "grid_worker" else self.source
            return self.rng.choice(self.w.residents), "resident"
        return self.staff["intake_clerk"] or self.rng.choice(self.w.residents), "intake_clerk"

    def _intake(self) -> None:
        clerk, rng = self.staff["intake_clerk"], self.rng
        decided = self.after(self.reported, "intake", 0.9, 0.08)
        fate = rng.random()
        if fate < 0.04:
            if self.happens(decided):
                self.stop("intake", decided, clerk)
                self.event(decided, "rejected", clerk, "intake_clerk", "rejected", reason="invalid")
            return
        if fate < 0.06:
            if self.happens(decided):
                self.stop("intake", decided, clerk)
                self.event(decided, "merged", clerk, "intake_clerk", "merged", reason="duplicate")
            return
        if self.source == "resident" and rng.random() < 0.5:
            self._verify(decided)
        if self.happens(decided):
            self.stop("intake", decided, clerk)
            self.filed = decided
            self.event(decided, "filed", clerk, "intake_clerk", "filed")
            self.start("dispose", decided)
            self._dispatch(decided)

    def _verify(self, decided: float) -> None:
        asked = self.cal.add(self.reported, 600)
        if not self.happens(asked):
            return
        self.event(
            asked,
            "verification_requested",
            self.staff["intake_clerk"],
            "intake_clerk",
            "verifying",
            public=False,
        )
        self.start("verify", asked)
        confirmed = min(self.after(asked, "verify", 0.9, 0.1), decided)
        worker = self.w.workers.get(self.grid)
        if self.happens(confirmed):
            self.stop("verify", confirmed, worker)
            self.event(
                confirmed,
                "site_confirmed",
                worker,
                "grid_worker",
                public=False,
                data={"exists": True},
            )

    def _dispatch(self, t: float) -> None:
        if self.org is None:
            return
        auto = self.rng.random() < 0.5
        at = t if auto else self.cal.add(t, self.rng.uniform(60, 3600))
        if not self.happens(at):
            return
        by = None if auto else self.staff["dispatcher"]
        self._dispatch_to(at, by)
        if self.rng.random() < 0.05:
            returned = self.after(at, "claim", 0.9, 0.1)
            if not self.happens(returned):
                return
            handler = self.w.handlers.get(self.org)
            self.stop("claim", returned, handler)
            self._settle("returned", returned)
            self.facts["was_returned"] = True
            self.facts["return_count"] = 1
            self.event(
                returned,
                "returned",
                handler,
                "unit_handler",
                "returned",
                org=self.org,
                reason="not_our_duty",
            )
            again = self.cal.add(returned, self.rng.uniform(600, 7200))
            if not self.happens(again):
                return
            self._shift("dispose", again, paused_from=returned)
            self._dispatch_to(again, self.staff["dispatcher"])
        self._claim(self.dispatched)

    def _dispatch_to(self, at: float, by: int | None) -> None:
        self.dispatched = at
        self.facts["dispatch_count"] = self.facts.get("dispatch_count", 0) + 1
        self.event(
            at,
            "dispatched",
            by,
            "dispatcher" if by else "",
            "dispatched",
            data={"to": self.org, "auto": by is None},
        )
        self.dispatches.append(
            [
                self.gen.next_id("dispatch"),
                self.id,
                self.org,
                by,
                "dispatcher" if by else "",
                _ts(at),
                by is None,
                None,
                self.org,
                "pending",
                None,
            ]
        )
        self.start("claim", at)

    def _settle(self, outcome: str, t: float) -> None:
        self.dispatches[-1][9] = outcome
        self.dispatches[-1][10] = _ts(t)

    def _shift(self, stage: str, resumed: float, paused_from: float) -> None:
        clock = self.clocks.get(stage)
        if clock is None or clock.due is None:
            return
        pause = self.cal.worked(resumed) - self.cal.worked(paused_from)
        clock.paused += pause
        clock.pauses.append([_ts(paused_from).isoformat(), _ts(resumed).isoformat()])  # type: ignore[union-attr]
        clock.due = self.cal.add(clock.due, pause)

    def _claim(self, dispatched: float) -> None:
        claimed = self.after(dispatched, "claim", 0.9, 0.08)
        handler = self.w.handlers.get(self.org)  # type: ignore[arg-type]
        if not self.happens(claimed):
            return
        self.stop("claim", claimed, handler)
        self._settle("claimed", claimed)
        self.event(claimed, "claimed", handler, "unit_handler", "accepted", org=self.org)
        self.handler = handler
        if self.rng.random() < 0.01 and self._suspend(claimed):
            return
        self._dispose(self.filed)

    def _suspend(self, claimed: float) -> bool:
        asked = self.cal.add(claimed, 3600)
        approved = self.cal.add(asked, 3600)
        resumed = self.cal.add(approved, 3 * 7 * 3600)
        if not self.happens(asked):
            return True
        self.event(
            asked,
            "suspension_requested",
            self.handler,
            "unit_handler",
            "suspension_requested",
            org=self.org,
            public=False,
        )
        if not self.happens(approved):
            return True
        self.event(
            approved, "suspension_approved", self.staff["dispatcher"], "dispatcher", "suspended"
        )
        self.facts["suspended_intervals"] = [[_ts(approved).isoformat(), None]]  # type: ignore[union-attr]
        if not self.happens(resumed):
            self.paused_at = approved
            return True
        self.facts["suspended_intervals"][0][1] = _ts(resumed).isoformat()  # type: ignore[union-attr]
        self._shift("dispose", resumed, paused_from=approved)
        self.event(resumed, "resumed", self.staff["dispatcher"], "dispatcher", "accepted")
        return False

    def _dispose(self, filed: float) -> None:
        submitted = self.after(filed, "dispose", 0.95, 0.12)
        for attempt in range(2):
            if not self.happens(submitted):
                return
            dispose = self.clocks.get("dispose") or self.done_clocks[-1]
            self.stop("dispose", submitted, self.handler)
            self.facts["disposed_at"] = submitted
            self.event(
                submitted, "submitted", self.handler, "unit_handler", "submitted", org=self.org
            )
            self.start("check", submitted)
            checked = self.after(submitted, "check", 0.9, 0.05)
            if not self.happens(checked):
                return
            verifier = self.staff["verifier"]
            self.stop("check", checked, verifier)
            if attempt == 0 and self.rng.random() < 0.04:
                self.event(checked, "check_failed", verifier, "verifier", "rework", public=True)
                self.facts["rework_count"] = 1
                self.facts["disposed_at"] = None
                self.done_clocks.remove(dispose)
                dispose.stopped = dispose.stopped_by = dispose.on_time = None
                self.clocks["dispose"] = dispose
                submitted = self.cal.add(
                    checked, self.rng.uniform(0.1, 0.6) * (dispose.limit or 14400)
                )
                continue
            self.event(checked, "check_passed", verifier, "verifier")
            self._close(checked)
            return

    def _close(self, checked: float) -> None:
        closed = self.cal.add(checked, self.rng.uniform(60, 3 * 3600))
        if not self.happens(closed):
            return
        lead = self.staff["shift_lead"]
        self.event(closed, "closed", lead, "shift_lead", "closed", reason="fixed")
        dispose = next(c for c in self.done_clocks if c.stage == "dispose")
        self.facts.update(closed_at=closed, closure_reason="fixed", checked_at=checked)
        self.facts["on_time"] = dispose.due is not None and self.facts["disposed_at"] <= dispose.due
        if self.rng.random() < (0.6 if self.source == "hotline_12345" else 0.15):
            rated = self.cal.add(closed, self.rng.uniform(600, 3 * 7 * 3600))
            if self.happens(rated):
                sat = self.rng.choices(["satisfied", "basic", "dissatisfied"], [0.8, 0.13, 0.07])[0]
                self.facts.update(satisfaction=sat, rated_at=rated)
                self.event(
                    rated, "rated", self.reporter, self.reporter_role, data={"satisfaction": sat}
                )


_ROLES = ["intake_clerk", "dispatcher", "shift_lead", "verifier"]


# ---------------------------------------------------------------- rows and COPY


CASE_COLUMNS = [
    "id", "number", "state", "version", "source", "category_id", "description", "urgency",
    "lat", "lon", "address", "city_id", "town_id", "village_id", "grid_id", "reporter_id",
    "reporter_name", "reporter_phone", "is_anonymous", "assigned_org_id", "parent_id",
    "resolved_on_spot", "closure_reason", "dispatch_count", "return_count", "rework_count",
    "reopen_count", "checked_at", "reported_at", "filed_at", "due_at", "closed_at",
    "updated_at", "disposed_at", "on_time", "intake_on_time", "was_returned",
    "suspended_intervals",
    "sla_version_id", "sla_level", "supervision", "satisfaction", "rated_at",
]  # fmt: skip
EVENT_COLUMNS = [
    "id", "case_id", "seq", "type", "at", "actor_id", "actor_role", "actor_org_id",
    "from_state", "to_state", "reason", "note", "is_public", "data",
]  # fmt: skip
CLOCK_COLUMNS = [
    "id", "case_id", "stage", "started_at", "limit_seconds", "paused_seconds", "paused_at",
    "pauses", "warn_at", "due_at", "serious_at", "level", "next_level_at", "stopped_at",
    "stopped_by_id", "on_time",
]  # fmt: skip
DISPATCH_COLUMNS = [
    "id", "case_id", "organisation_id", "by_id", "by_role", "at", "is_auto", "rule_id",
    "suggested_id", "outcome", "outcome_at",
]  # fmt: skip
TABLES = {
    "case": ("cases_case", CASE_COLUMNS),
    "event": ("cases_caseevent", EVENT_COLUMNS),
    "clock": ("cases_caseclock", CLOCK_COLUMNS),
    "dispatch": ("cases_dispatch", DISPATCH_COLUMNS),
}
HELD = {
    "dispatched",
    "accepted",
    "suspended",
    "suspension_requested",
    "submitted",
    "rework",
    "closed",
}
UNFILED = {"reported", "verifying", "rejected", "merged"}
OPEN_STATES = {
    "reported",
    "verifying",
    "filed",
    "dispatched",
    "returned",
    "accepted",
    "suspended",
    "submitted",
    "rework",
}


class Generator:
    def __init__(self, world: World, calendar: FastCalendar, seed: int) -> None:
        self.world, self.calendar = world, calendar
        self.now_ts = world.now.timestamp()
        self.rng = random.Random(seed)
        self.ids: dict[str, int] = {}
        self.numbers: dict[str, int] = {}
        self.warn, self.serious = 0.8, 2.0

    def next_id(self, kind: str) -> int:
        self.ids[kind] += 1
        return self.ids[kind]

    def start_ids(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            for kind, (table, _cols) in TABLES.items():
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
                self.ids[kind] = cursor.fetchone()[0]

    def number(self, reported: float) -> str:
        day = datetime.fromtimestamp(reported, UTC).astimezone(_shanghai()).strftime("%Y%m%d")
        self.numbers[day] = self.numbers.get(day, 0) + 1
        return f"YW{day}{self.numbers[day]:04d}"

    def case(self) -> dict[str, list[tuple[Any, ...]]]:
        case_id = self.next_id("case")
        journey = Journey(self, case_id, "", self.rng)
        journey.walk()
        journey.number = self.number(journey.reported)
        return {
            "case": [self._case_row(journey)],
            "event": journey.events,
            "clock": [
                self._clock_row(journey, c)
                for c in [*journey.done_clocks, *journey.clocks.values()]
            ],
            "dispatch": [tuple(d) for d in journey.dispatches],
        }

    def _case_row(self, j: Journey) -> tuple[Any, ...]:
        f = j.facts
        dispose = j.clocks.get("dispose") or next(
            (c for c in j.done_clocks if c.stage == "dispose"), None
        )
        levels = [self._level(c)[0] for c in j.clocks.values()]
        intake = next((c for c in j.done_clocks if c.stage == "intake"), None)
        last = j.events[-1][4]
        row = {
            "id": j.id, "number": j.number, "state": j.state, "version": len(j.events),
            "source": j.source, "category_id": j.category.pk,
            "description": f"{j.category.name}（生成数据）", "urgency": j.urgency,
            "lat": j.lat, "lon": j.lon, "address": "", "city_id": j.city, "town_id": j.town,
            "village_id": j.village, "grid_id": j.grid, "reporter_id": j.reporter,
            "reporter_name": "", "reporter_phone": "", "is_anonymous": False,
            "assigned_org_id": j.org if j.state in HELD else None,
            "parent_id": None, "resolved_on_spot": False,
            "closure_reason": f.get("closure_reason", ""),
            "dispatch_count": f.get("dispatch_count", 0), "return_count": f.get("return_count", 0),
            "rework_count": f.get("rework_count", 0), "reopen_count": 0,
            "checked_at": _ts(f.get("checked_at")), "reported_at": _ts(j.reported),
            "filed_at": None if j.state in UNFILED else _ts(getattr(j, "filed", None)),
            "due_at": _ts(dispose.due) if dispose else None, "closed_at": _ts(f.get("closed_at")),
            "updated_at": last, "disposed_at": _ts(f.get("disposed_at")),
            "on_time": f.get("on_time"), "intake_on_time": intake.on_time if intake else None,
            "was_returned": f.get("was_returned", False),
            "suspended_intervals": json.dumps(f.get("suspended_intervals", [])),
            "sla_version_id": self.world.version_id, "sla_level": max(levels, default=0),
            "supervision": "", "satisfaction": f.get("satisfaction", ""),
            "rated_at": _ts(f.get("rated_at")),
        }  # fmt: skip
        return tuple(row[c] for c in CASE_COLUMNS)

    def _level(self, clock: Clock) -> tuple[int, float | None]:
        """Level at the present and when the next one is due, for a running clock."""
        if clock.limit is None or clock.due is None or clock.stopped is not None:
            return 0, None
        warn = self.calendar.add(clock.started, clock.limit * self.warn + clock.paused)
        serious = self.calendar.add(clock.started, clock.limit * self.serious + clock.paused)
        thresholds = [warn, clock.due, serious]
        level = sum(1 for t in thresholds if t <= self.now_ts)
        return level, thresholds[level] if level < 3 else None

    def _clock_row(self, j: Journey, clock: Clock) -> tuple[Any, ...]:
        level, next_at = self._level(clock)
        paused_at = (
            getattr(j, "paused_at", None)
            if clock.stage == "dispose" and clock.stopped is None
            else None
        )
        limit = clock.limit
        warn = self.calendar.add(clock.started, limit * self.warn + clock.paused) if limit else None
        serious = (
            self.calendar.add(clock.started, limit * self.serious + clock.paused) if limit else None
        )
        pauses = json.dumps([p for p in clock.pauses if p[1]])
        next_level_at = None if paused_at else _ts(next_at)
        return (
            self.next_id("clock"), j.id, clock.stage, _ts(clock.started), limit,
            int(clock.paused), _ts(paused_at), pauses, _ts(warn), _ts(clock.due), _ts(serious),
            level, next_level_at, _ts(clock.stopped), clock.stopped_by, clock.on_time,
        )  # fmt: skip


def _shanghai() -> Any:
    from civicloop.lib.clock import SHANGHAI

    return SHANGHAI


def _copy(kind: str, rows: list[tuple[Any, ...]]) -> None:
    from django.db import connection

    table, columns = TABLES[kind]
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def generate(world: World, count: int, seed: int) -> dict[str, int]:
    from django.db import connection
    from tqdm import tqdm

    from civicloop.cases import sla

    calendar = sla.work_calendar()
    fast = FastCalendar(
        calendar, world.now - YEAR - timedelta(days=30), world.now + timedelta(days=400)
    )
    fast.check(calendar)
    gen = Generator(world, fast, seed)
    gen.start_ids()
    written = dict.fromkeys(TABLES, 0)
    with tqdm(total=count, unit="case", desc="generating", mininterval=2) as bar:
        done = 0
        while done < count:
            batch = min(BATCH, count - done)
            rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in TABLES}
            for _ in range(batch):
                for kind, items in gen.case().items():
                    rows[kind].extend(items)
            for kind in TABLES:
                _copy(kind, rows[kind])
                written[kind] += len(rows[kind])
            done += batch
            bar.update(batch)
    with connection.cursor() as cursor:
        for kind, (table, _cols) in TABLES.items():
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {gen.ids[kind]})"
            )
        _sequences(cursor, gen.numbers)
        # As autovacuum would: statistics, and the visibility map for index-only scans.
        for table, _cols in TABLES.values():
            cursor.execute(f"VACUUM ANALYZE {table}")
        # The generation left gigabytes of dirty buffers: written now, not by the checkpointer
        # while the requests are measured (every commit's WAL flush would wait behind them).
        cursor.execute("CHECKPOINT")
    return written


# Share of closed cases given an earlier closed cycle (办理轮次), as a reopen leaves one.
CYCLE_SHARE = 50  # one in 50


def earlier_cycles() -> int:
    """The journeys do not reopen cases; so that the reports read a cycle table of a realistic
    size, one closed case in CYCLE_SHARE gets an earlier closed cycle: its own facts 30 days
    earlier, reopened a day after that closing. Once: nothing when cycles exist already."""
    from django.db import connection

    columns = (
        "source, category_id, city_id, town_id, village_id, grid_id, assigned_org_id, "
        "closure_reason, rework_count, on_time, satisfaction"
    )
    shifted = ", ".join(
        f"{name} - interval '30 days'"
        for name in ("filed_at", "due_at", "disposed_at", "closed_at", "rated_at")
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM cases_casecycle)")
        if cursor.fetchone()[0]:
            return 0
        cursor.execute(
            f"INSERT INTO cases_casecycle (case_id, cycle, state, {columns}, filed_at, due_at, "
            "disposed_at, closed_at, rated_at, reopened_at) "
            f"SELECT id, 1, state, {columns}, {shifted}, closed_at - interval '29 days' "
            f"FROM cases_case WHERE state = 'closed' AND id % {CYCLE_SHARE} = 0"
        )
        written = cursor.rowcount
        cursor.execute(
            "UPDATE cases_case SET reopen_count = 1 WHERE id IN "
            "(SELECT case_id FROM cases_casecycle)"
        )
        cursor.execute("VACUUM ANALYZE cases_casecycle")
    return written


def _sequences(cursor: Any, numbers: dict[str, int]) -> None:
    """Case numbers continue after the generated ones on every day."""
    for day, last in numbers.items():
        cursor.execute(
            "INSERT INTO cases_casenumbersequence (prefix, day, last) VALUES ('YW', %s, %s) "
            "ON CONFLICT (prefix, day) DO UPDATE SET last = GREATEST("
            "cases_casenumbersequence.last, EXCLUDED.last)",
            [datetime.strptime(day, "%Y%m%d").date(), last],
        )


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE cases_case, cases_caseevent, cases_caseclock, cases_dispatch, cases_photo, "
            "cases_caseassist, cases_casefollower, cases_supervision, cases_casenumbersequence, "
            "cases_kpirollup, cases_casecycle, "
            "notifications_notification, notifications_delivery RESTART IDENTITY CASCADE"
        )


# ---------------------------------------------------------------- measurements


def _timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _client(mobile: str) -> Any:
    from django.test import Client

    from civicloop.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(mobile=mobile))
    return client


API_BLOCK = 50  # requests of one kind in a row


def measure_api(requests: int) -> dict[str, float]:
    resident, clerk = demo_client("resident"), demo_client("intake_clerk")
    bare, report = poster(resident, *BARE), poster(resident, *CREATE)
    numbers: list[str] = []

    def create() -> None:
        numbers.append(report().json()["number"])

    def transition() -> None:
        number = numbers.pop(0)
        response = clerk.post(f"/api/v1/cases/{number}/file", {}, content_type="application/json")
        assert response.status_code == 200, response.content

    for warm in (bare, create):
        _timed(warm, 20)
    numbers.clear()
    # Alternating blocks: each view runs warm, doing one thing at a time, and neither gets
    # the quieter minutes of a shared machine.
    bare_t = create_t = 0.0
    for start in range(0, requests, API_BLOCK):
        size = min(API_BLOCK, requests - start)
        bare_t += sum(_timed(bare, size))
        create_t += sum(_timed(create, size))
    file_t = sum(_timed(transition, requests))
    return {
        "bare_per_s": requests / bare_t,
        "create_per_s": requests / create_t,
        "file_per_s": requests / file_t,
        "create_and_file_per_s": requests / (create_t + file_t),
    }


def _xiaozici_point() -> tuple[float, float]:
    from civicloop.accounts.demo import _xiaozici_grid

    grid = _xiaozici_grid()
    return grid.centre_lat or 0.0, grid.centre_lon or 0.0


def report_form() -> dict[str, object]:
    """The report every request benchmark posts: garbage on a bridge (0102), at the centre of
    the demo resident's grid in 小紫池."""
    lat, lon = _xiaozici_point()
    report: dict[str, object] = {"category": "0102", "kind": "event", "description": "桥头垃圾堆放"}
    return report | {"lat": lat, "lon": lon}


BARE, CREATE = ("/bench/bare", 200), ("/api/v1/cases", 201)


def poster(client: Any, path: str, status: int) -> Callable[[], Any]:
    """A request of the benchmarks: `report_form()` posted to `path` by `client`, which must
    answer `status`; the call returns the response."""
    form = report_form()

    def post() -> Any:
        response = client.post(path, form)
        assert response.status_code == status, response.content
        return response

    return post


def demo_client(role: str) -> Any:
    """A test client logged in as the demo person of `role` (resident, intake_clerk, …)."""
    from civicloop.accounts.demo import NAMED

    return _client(next(mobile for mobile, _name, named in NAMED if str(named) == role))


def measure_notify(label: str) -> dict[str, float]:
    """What the outbox worker does after the requests: deliver their events (inbox rows, SMS
    records), as `civicloop notify` would, in batches of 200."""
    from civicloop.cases import events

    pending = events.pending_count()
    started = time.perf_counter()
    delivered = events.drain(batch=200)
    elapsed = time.perf_counter() - started
    return {
        f"notify_{label}_events": delivered,
        f"notify_{label}_s": elapsed,
        f"notify_{label}_pending_before": pending,
    }


def measure_queue(samples: int) -> dict[str, float]:
    from civicloop.accounts.demo import NAMED

    mobile = next(m for m, _n, role in NAMED if role == "dispatcher")
    dispatcher = _client(mobile)
    url = "/api/v1/cases?state=filed&state=returned&limit=50"
    _timed(lambda: dispatcher.get(url), 10)
    times = _timed(lambda: dispatcher.get(url).json(), samples)
    count = dispatcher.get(url).json()["count"]
    return {
        "queue_p50_ms": _pct(times, 0.5) * 1000,
        "queue_p95_ms": _pct(times, 0.95) * 1000,
        "queue_cases": count,
    }


def measure_sweep(world: World) -> dict[str, float]:
    """Sweep as the worker would one working day from now: every clock that reaches a threshold
    in that working day is raised (with its events and notifications); then sweep again."""
    from civicloop.cases import sla
    from civicloop.cases.models import Case, CaseClock
    from civicloop.cases.sweep import sla_sweep

    open_cases = Case.objects.open().count()
    running = CaseClock.objects.filter(stopped_at__isnull=True).count()
    later = sla.work_calendar().add(world.now, timedelta(hours=7))
    started = time.perf_counter()
    result = sla_sweep(now=later)
    catch_up = time.perf_counter() - started
    started = time.perf_counter()
    again = sla_sweep(now=later)
    steady = time.perf_counter() - started
    return {
        "open_cases": open_cases,
        "running_clocks": running,
        "sweep_clocks": result.clocks,
        "sweep_events": result.events,
        "sweep_s": catch_up,
        "sweep_again_s": steady,
        "sweep_again_clocks": again.clocks,
    }


def vacuum_kpi_tables() -> None:
    """Steady state, as autovacuum keeps production: statistics and the visibility map (index-
    only scans of the covering KPI indexes) after the rows the requests and the sweep changed.

    The rollups are compacted as well. The worker's first pass after generation upserts each
    rollup row once per batch of cases (the generated ids do not follow the report time, as
    production's do), about 60 versions of each, and this machine's server runs with
    `autovacuum = off`: nothing reclaims them while the pass runs, and the plain VACUUM after it
    leaves the file at its size (108 MB for 53,000 rows on 1M cases, where 5 MB hold them), which
    the report's scans of the rollups then read. Production's autovacuum reclaims the space
    during such a pass; `VACUUM FULL` of this small table stands for that."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("cases_case", "cases_caseclock", "cases_dispatch"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        cursor.execute("VACUUM (FULL, ANALYZE) cases_kpirollup")


def measure_rollup() -> dict[str, float]:
    """The KPI rollup worker (`civicloop kpi_rollup`), one pass as production runs it: after
    generation it rolls every settled case, later only the cases settled since."""
    from civicloop.cases import kpi_rollups
    from civicloop.cases.models import Case

    started = time.perf_counter()
    result = kpi_rollups.roll()
    elapsed = time.perf_counter() - started
    return {
        "rollup_s": elapsed,
        "rollup_cases": result.cases,
        "rollup_rows": result.rows,
        "rolled_cases": Case.objects.filter(kpi_settled_at__isnull=False).count(),
        "all_cases": Case.objects.count(),
    }


def measure_rebuild() -> None:
    """`civicloop kpi_rollup --rebuild`: the rollups emptied, every settled case rolled again
    (batches of 1,000, the worker's default), as on a new deployment's first pass."""
    from civicloop.cases import kpi_rollups

    vacuum_kpi_tables()
    started = time.perf_counter()
    result = kpi_rollups.rebuild()
    elapsed = time.perf_counter() - started
    print(
        f"KPI rollup rebuild             {elapsed:.1f} s: {result.cases:,} cases rolled "
        f"({elapsed / max(result.cases, 1) * 1000:.2f} ms per case), "
        f"{result.rows:,} rollup rows written"
    )


def measure_kpis(world: World, repeat: int = 5) -> dict[str, float]:
    """The city-year report, whole and by town, from the rollups and computed directly,
    alternately (the same load for both), and whether the numbers are the same."""
    from civicloop.cases import kpis
    from civicloop.lib import clock

    vacuum_kpi_tables()

    period = kpis.period_of(kpis.PeriodKind.YEAR, world.now.date())
    everything = kpis.Scope(everything=True)
    indicators = kpis.indicators_for()
    # Every report counts up to one instant: the open cases' deadlines fall due one after
    # another while the reports run (a case counts as due once its deadline has passed), so two
    # reports a moment apart could differ by one (a run printed identical=False that way; with
    # one instant both sides agreed).
    now = clock.now()

    def city_year(group_by: kpis.Dimension, rollups: bool) -> kpis.Report:
        return kpis.compute(
            scope=everything,
            period=period,
            indicators=indicators,
            group_by=group_by,
            now=now,
            rollups=rollups,
        )

    def numbers(report: kpis.Report) -> list[Any]:
        return [(r.key, r.label, r.values) for r in report.rows]

    city_year(kpis.Dimension.NONE, True)
    times: dict[tuple[kpis.Dimension, bool], list[float]] = {}
    identical = True
    for _ in range(repeat):
        for group_by in (kpis.Dimension.NONE, kpis.Dimension.TOWN):
            reports = {}
            for rollups in (True, False):
                started = time.perf_counter()
                reports[rollups] = city_year(group_by, rollups)
                times.setdefault((group_by, rollups), []).append(time.perf_counter() - started)
            identical &= numbers(reports[True]) == numbers(reports[False])
    report = city_year(kpis.Dimension.NONE, True)
    due = report.rows[0].values["closure_rate"].denominator

    def ms(group_by: kpis.Dimension, rollups: bool) -> float:
        return statistics.median(times[group_by, rollups]) * 1000

    return {
        "kpi_city_year_ms": ms(kpis.Dimension.NONE, True),
        "kpi_city_year_by_town_ms": ms(kpis.Dimension.TOWN, True),
        "kpi_direct_city_year_ms": ms(kpis.Dimension.NONE, False),
        "kpi_direct_city_year_by_town_ms": ms(kpis.Dimension.TOWN, False),
        "kpi_identical": identical,
        "kpi_due_cases": due,
        "kpi_closure_rate": report.rows[0].values["closure_rate"].rate or 0.0,
    }


# ---------------------------------------------------------------- entry point


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench cases", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases to generate")
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--requests", type=int, default=300, help="API requests per measurement")
    parser.add_argument("--queue-samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--regenerate", action="store_true", help="drop generated cases first")
    parser.add_argument(
        "--only",
        choices=["kpis", "http", "rebuild"],
        help="measure only this step, on the cases already generated (rebuild: empty the KPI "
        "rollups and roll every settled case again, the first pass of a new deployment)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="KPI reports per median")
    parser.add_argument(
        "--http",
        action="store_true",
        help="then bare view against case creation on a gunicorn server driven by wrk",
    )
    parser.add_argument(
        "--http-workers",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[2, 4],
        help="gunicorn sync worker counts, one server each (comma-separated)",
    )
    parser.add_argument("--http-connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--http-seconds", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--http-rounds", type=int, default=2, help="bare/create rounds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(list(sys.argv[1:] if argv is None else argv))
    setup(args.url)
    from civicloop.cases.models import Case

    started = time.perf_counter()
    world = load_world()
    have = Case.objects.count()
    if args.only and (args.regenerate or have < args.cases):
        raise SystemExit(f"--only measures existing data: {have:,} cases, {args.cases:,} asked")
    if args.regenerate or have < args.cases:
        reset()
        written = generate(world, args.cases, args.seed)
        elapsed = time.perf_counter() - started
        rows = ", ".join(f"{n:,} {k}s" for k, n in written.items())
        print(f"generated {rows} in {elapsed:.0f} s")
    else:
        print(f"reusing {have:,} generated cases (--regenerate to start again)")
    if cycles := earlier_cycles():
        print(f"added {cycles:,} earlier closed cycles (one closed case in {CYCLE_SHARE})")
    if args.only == "kpis":
        report_kpis({**measure_rollup(), **measure_kpis(world, args.repeat)})
        return
    if args.only == "http":
        _measure_http(args)
        return
    if args.only == "rebuild":
        measure_rebuild()
        return
    from civicloop.cases import events

    events.drain()  # anything a previous run left undelivered
    results = {
        **measure_api(args.requests),
        **measure_notify("api"),
        **measure_queue(args.queue_samples),
        **measure_sweep(world),
        **measure_notify("sweep"),
        **measure_rollup(),
        **measure_kpis(world, args.repeat),
    }
    report(results)
    if args.http:
        _measure_http(args)


def _measure_http(args: argparse.Namespace) -> None:
    from bench.http_bench import measure_http

    # The events of the cases created over HTTP are left to the outbox: the next run drains
    # them before it measures.
    measure_http(
        args.url, args.http_workers, args.http_connections, args.http_seconds, args.http_rounds
    )


def report(r: dict[str, float]) -> None:
    ratio = r["create_per_s"] / r["bare_per_s"]
    pair = r["create_and_file_per_s"] / r["bare_per_s"]
    lines = [
        f"bare JSON view                 {r['bare_per_s']:8.1f} req/s",
        f"create case (API)              {r['create_per_s']:8.1f} req/s   "
        f"{ratio:6.1%} of bare (target ≥ 50 %)",
        f"file case (API, one transition){r['file_per_s']:8.1f} req/s",
        f"create + file                  {r['create_and_file_per_s']:8.1f} pairs/s "
        f"{pair:6.1%} of bare",
        f"notify worker, API events      {int(r['notify_api_events']):,} events in "
        f"{r['notify_api_s']:.2f} s ({_rate(r['notify_api_events'], r['notify_api_s'])} events/s)",
        f"dispatcher queue               p50 {r['queue_p50_ms']:.1f} ms, "
        f"p95 {r['queue_p95_ms']:.1f} ms "
        f"(target p95 < 150 ms; {int(r['queue_cases'])} cases waiting)",
        f"SLA sweep                      {r['sweep_s']:.2f} s over "
        f"{int(r['open_cases']):,} open cases / "
        f"{int(r['running_clocks']):,} running clocks: {int(r['sweep_clocks']):,} clocks raised, "
        f"{int(r['sweep_events']):,} events; rerun {r['sweep_again_s'] * 1000:.0f} ms",
        f"notify worker, sweep events    {int(r['notify_sweep_events']):,} events in "
        f"{r['notify_sweep_s']:.2f} s "
        f"({_rate(r['notify_sweep_events'], r['notify_sweep_s'])} events/s)",
    ]
    print("\n".join(lines))
    report_kpis(r)


def report_kpis(r: dict[str, float]) -> None:
    print(
        f"KPI rollup worker              {r['rollup_s']:.2f} s: {int(r['rollup_cases']):,} cases "
        f"rolled ({int(r['rollup_rows']):,} rollup rows written); "
        f"{int(r['rolled_cases']):,} of {int(r['all_cases']):,} cases in the rollups"
    )
    print(
        f"KPIs, city-year                {r['kpi_city_year_ms']:.0f} ms (target < 500 ms), "
        f"by town {r['kpi_city_year_by_town_ms']:.0f} ms; {int(r['kpi_due_cases']):,} cases due, "
        f"结案率 {r['kpi_closure_rate']:.1%}"
    )
    print(
        f"KPIs, city-year, direct        {r['kpi_direct_city_year_ms']:.0f} ms, "
        f"by town {r['kpi_direct_city_year_by_town_ms']:.0f} ms (alternating with the above; "
        f"identical={bool(r['kpi_identical'])})"
    )


def _rate(count: float, seconds: float) -> str:
    return f"{count / seconds:.1f}" if seconds else "—"


def bare_view(request: Any) -> Any:
    """The yardstick: the same middleware and session authentication, no work."""
    from django.http import JsonResponse

    if not request.user.is_authenticated:
        return JsonResponse({"code": "unauthenticated"}, status=401)
    return JsonResponse({"ok": True, "fields": len(request.POST)})


def _shape_api() -> Any:
    """`POST /bench/api/report-shape`: the request shape of a report through the API — the same
    NinjaAPI authentication, form schema, photo and query parameters and a 201 of the same
    five values — with none of the engine's work (no read, no write). What the framework alone
    costs a report (`bench/api_floor.py`)."""
    from django.http import HttpRequest, HttpResponse
    from ninja import Form, NinjaAPI
    from ninja.security import SessionAuth

    from civicloop.cases.api import Photos
    from civicloop.cases.schemas import ReportIn

    shape = NinjaAPI(urls_namespace="bench-api", auth=[SessionAuth(csrf=True)], docs_url=None)

    def report_shape(request: Any, payload: Any, photos: Any = None, detail: bool = False) -> Any:
        number = "YW202611270001"
        created = {
            "number": number,
            "state": "reported",
            "state_display": "已上报·待受理",
            "version": 1,
            "url": f"{request.path.rstrip('/')}/{number}",
        }
        return shape.create_response(request, created, status=201)

    # The API's own signature, as objects: this module's annotations are strings (`from
    # __future__ import annotations`), which ninja would resolve in the module's globals.
    report_shape.__annotations__ = {
        "request": HttpRequest,
        "payload": Form[ReportIn],
        "photos": Photos,
        "detail": bool,
        "return": HttpResponse,
    }
    shape.post("/report-shape")(report_shape)
    return shape


def __getattr__(name: str) -> Any:
    """`urlpatterns`, computed on first use (after django.setup()): the site plus the bare view
    and the report's request shape."""
    if name == "urlpatterns":
        from django.urls import path

        from civicloop.urls import urlpatterns

        shape = _shape_api()
        return [path("bench/bare", bare_view), path("bench/api/", shape.urls), *urlpatterns]
    raise AttributeError(name)
