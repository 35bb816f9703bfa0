"""Demo cases for Yiwu: a few months of the closed loop, written through the real services.

Every case is planned first: what is reported (a story from `data/demo_stories.json`), where (a
point inside a grid of a town weighted by population), by whom, and which path it takes to the
state it is in "now" (most closed, some still in every stage of the loop). Then the steps of all
cases run together in time order, each one a call of a service inside `clock.frozen(at)`; so the
timelines, counters, case numbers, deadlines and photos are exactly what the services write for
real users, and nothing here writes a Case or CaseEvent row itself.

`load_demo_cases()` is deterministic: with the same seed and the same "now" (freeze the clock)
it writes exactly the same rows; with another "now" the same stories move in time (only which
case a duplicate repeats may change). It does nothing when the database already
holds cases, so loading the demo twice is harmless.
"""

from __future__ import annotations

import heapq
import io
import json
import math
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import shapely
from django.db import transaction
from PIL import Image, ImageDraw
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from civicloop.accounts.demo import town_slug
from civicloop.accounts.models import Membership, Organisation, Role, User
from civicloop.cases import services
from civicloop.cases.models import (
    CLOSED_STATES,
    Case,
    Category,
    ClosureReason,
    LimitUnit,
    RejectReason,
    ReturnReason,
    Source,
    State,
    Urgency,
)
from civicloop.lib import clock
from civicloop.regions.geometry import parse_boundary
from civicloop.regions.models import Kind, Level, Region

STORIES_PATH = Path(__file__).resolve().parent / "data" / "demo_stories.json"

ON_SPOT = "on_spot"  # a plan target besides the states: closed at once by a grid worker
# Where the cases are "now", as shares of all cases (a city on an ordinary afternoon).
SHARES: tuple[tuple[str, float], ...] = (
    (State.CLOSED, 0.59),
    (ON_SPOT, 0.07),
    (State.REJECTED, 0.04),
    (State.MERGED, 0.03),
    (State.DRAFT, 0.01),
    (State.REPORTED, 0.03),
    (State.VERIFYING, 0.02),
    (State.FILED, 0.02),
    (State.DISPATCHED, 0.03),
    (State.RETURNED, 0.015),
    (State.ACCEPTED, 0.05),
    (State.EXTENSION_REQUESTED, 0.015),
    (State.SUSPENSION_REQUESTED, 0.01),
    (State.SUSPENDED, 0.015),
    (State.SUBMITTED, 0.03),
    (State.REWORK, 0.015),
    (State.REOPENED, 0.01),
)
# An open case reached its current state at most this many days before now: a backlog of a few
# days at intake, up to two weeks in disposal (some of it overdue), longer while suspended.
RECENT_DAYS: dict[str, float] = {
    State.DRAFT: 10,
    State.REPORTED: 3,
    State.VERIFYING: 4,
    State.FILED: 3,
    State.DISPATCHED: 4,
    State.RETURNED: 5,
    State.ACCEPTED: 14,
    State.EXTENSION_REQUESTED: 10,
    State.SUSPENSION_REQUESTED: 10,
    State.SUSPENDED: 60,
    State.SUBMITTED: 5,
    State.REWORK: 10,
    State.REOPENED: 14,
}
# Reports per local hour (Asia/Shanghai), relative; weekends see fewer.
HOUR_WEIGHTS = (
    0.15, 0.1, 0.08, 0.08, 0.1, 0.25, 0.6, 1.2, 1.9, 2.0, 1.9, 1.5,
    1.1, 1.0, 1.6, 1.8, 1.8, 1.6, 1.3, 1.1, 0.9, 0.6, 0.35, 0.2,
)  # fmt: skip
WEEKEND_FACTOR = 0.6
SOURCE_WEIGHTS: tuple[tuple[Source, float], ...] = (
    (Source.GRID_WORKER, 44),
    (Source.RESIDENT, 15),
    (Source.VOLUNTEER, 9),
    (Source.HOTLINE, 20),
    (Source.LEADER, 3),
    (Source.INSPECTION, 5),
)
PUBLIC_SOURCES = (Source.RESIDENT, Source.VOLUNTEER)
CENTRE_SOURCES = (Source.HOTLINE, Source.LEADER, Source.INSPECTION)
# How often the centre sends a grid worker to verify a report first (anonymous ones: half).
VERIFY_SHARE = {
    Source.HOTLINE: 0.75,
    Source.RESIDENT: 0.15,
    Source.VOLUNTEER: 0.1,
    Source.GRID_WORKER: 0.03,
}
# The unit a case is wrongly sent to first (and which returns it), by the right owner.
MISROUTE = {
    "hw": "cgb", "cgb": "hw", "yl": "hw", "sz": "sw", "sw": "sz",
    "jt": "cgb", "jd": "cgb", "hb": "cgb", "sj": "cgb", "zz": "cgb",
}  # fmt: skip
TOWN_STAFF = (Role.INTAKE_CLERK, Role.DISPATCHER, Role.SHIFT_LEAD, Role.VERIFIER)
RECALL_NOTE = "自动派遣的单位与本案职责不符，撤回后重新派遣"
MIN_GAP = timedelta(minutes=1)
MARGIN = timedelta(minutes=2)  # the last step of any case is at least this long before now
PHOTO_SIZE = (320, 240)
# Typical waits before each step, in minutes: (shortest, longest, most likely).
DELAYS: dict[str, tuple[float, float, float]] = {
    "request_verification": (5, 40, 15),
    "confirm_on_site": (20, 240, 90),
    "file": (10, 60, 25),
    "file_verified": (5, 40, 15),
    "reject": (10, 90, 30),
    "merge": (10, 60, 20),
    "dispatch": (3, 45, 12),
    "redispatch": (10, 90, 30),
    "return": (15, 240, 60),
    "claim": (5, 180, 30),
    "request_suspension": (30, 600, 120),
    "decide_suspension": (60, 360, 120),
    "decide_extension": (20, 180, 60),
    "resubmit": (120, 1440, 360),
    "check": (30, 480, 90),
    "close": (10, 240, 45),
    "reopen": (120, 4320, 1440),
    "note": (5, 60, 20),
    "duplicate": (15, 240, 60),
}


class DemoSetupError(RuntimeError):
    """The regions, categories, organisations or people the demo cases need are missing."""


# ---------------------------------------------------------------- the world the cases live in


@dataclass(frozen=True)
class Story:
    category: Category
    weight: float
    urgent: float
    on_spot: bool
    descriptions: tuple[str, ...]
    fixes: tuple[str, ...]
    rework: tuple[str, ...]
    extension: tuple[str, ...]


@dataclass(frozen=True)
class Grid:
    region: Region
    shape: BaseGeometry
    worker: User | None


@dataclass(frozen=True)
class Village:
    region: Region
    grids: tuple[Grid, ...]


@dataclass(frozen=True)
class Town:
    region: Region
    slug: str
    weight: float
    villages: tuple[Village, ...]
    staff: dict[Role, list[User]]
    roads: tuple[str, ...]
    landmarks: tuple[str, ...]


@dataclass(frozen=True)
class PhotoBank:
    before: tuple[bytes, ...]
    after: tuple[bytes, ...]

    def pick(self, rng: random.Random, kind: str, count: int = 1) -> list[services.PhotoUpload]:
        bank = self.before if kind == "before" else self.after
        chosen = rng.sample(range(len(bank)), count)
        return [services.PhotoUpload(f"IMG_{kind}_{i + 1:02d}.jpg", bank[i]) for i in chosen]


@dataclass(frozen=True)
class World:
    stories: tuple[Story, ...]
    texts: dict[str, list[str]]
    towns: tuple[Town, ...]
    orgs: dict[str, Organisation]
    handlers: dict[int, list[User]]
    public: dict[Role, list[User]]
    photos: PhotoBank

    def text(self, rng: random.Random, key: str, **values: str) -> str:
        return rng.choice(self.texts[key]).format(**values)

    def owner_org(self, town: Town, owner: str) -> Organisation:
        """The unit of the town matching the category's owner code, else the city department,
        else the town's 综合行政执法中队."""
        codes = [f"{town.slug}-{owner}", f"yw-{owner}", f"{town.slug}-cgb"]
        for code in codes if owner else codes[2:]:
            org = self.orgs.get(code)
            if org is not None and self.handlers.get(org.pk):
                return org
        raise DemoSetupError(f"{town.region.name}没有可承办“{owner}”类案件的单位")

    def wrong_org(self, town: Town, owner: str, right: Organisation) -> Organisation:
        wrong = self.owner_org(town, MISROUTE.get(owner, "cgb"))
        return wrong if wrong.pk != right.pk else self.owner_org(town, "zz")


def _load_stories(data: dict[str, Any]) -> tuple[Story, ...]:
    categories = {
        f"{c.kind}/{c.full_code}": c
        for c in Category.objects.filter(parent__isnull=False, is_active=True)
    }
    stories = []
    for item in data["stories"]:
        category = categories.get(item["category"])
        if category is None:
            continue
        stories.append(
            Story(
                category=category,
                weight=float(item.get("weight", 1)),
                urgent=float(item.get("urgent", 0.04)),
                on_spot=bool(item.get("on_spot", False)),
                descriptions=tuple(item["descriptions"]),
                fixes=tuple(item["fixes"]),
                rework=tuple(item.get("rework", ())),
                extension=tuple(item.get("extension", ())),
            )
        )
    if not stories:
        raise DemoSetupError("没有案件分类：请先载入分类（categories_load_seed）")
    return tuple(stories)


def _memberships() -> tuple[dict[tuple[int, str], list[User]], dict[int, list[User]]]:
    """Users by (region, role) and unit staff by organisation; one User object per person, so
    each loads its memberships once (services cache them on the object)."""
    users: dict[int, User] = {}
    by_region: dict[tuple[int, str], list[User]] = defaultdict(list)
    by_org: dict[int, list[User]] = defaultdict(list)
    rows = Membership.objects.active().select_related("user").order_by("id")
    for m in rows.filter(user__is_active=True):
        user = users.setdefault(m.user_id, m.user)
        if m.role in (Role.UNIT_HANDLER, Role.UNIT_HEAD) and m.organisation_id is not None:
            by_org[m.organisation_id].append(user)
        else:
            by_region[(m.region_id, m.role)].append(user)
    return by_region, by_org


def _load_towns(
    words: dict[str, dict[str, Any]], staff: dict[tuple[int, str], list[User]]
) -> tuple[Town, ...]:
    grids: dict[int, list[Grid]] = defaultdict(list)
    for region in Region.objects.filter(level=Level.GRID, boundary__isnull=False).order_by("code"):
        shape = parse_boundary(region.boundary)
        shapely.prepare(shape)
        worker = next(iter(staff.get((region.pk, Role.GRID_WORKER.value), [])), None)
        grids[region.parent_id or 0].append(Grid(region, shape, worker))
    villages: dict[int, list[Village]] = defaultdict(list)
    for region in Region.objects.filter(level=Level.VILLAGE).order_by("code"):
        if grids.get(region.pk):
            villages[region.parent_id or 0].append(Village(region, tuple(grids[region.pk])))
    towns = []
    for region in Region.objects.filter(level=Level.TOWN).order_by("code"):
        town_staff = {role: staff.get((region.pk, role), []) for role in TOWN_STAFF}
        if villages.get(region.pk) and all(town_staff.values()):
            towns.append(_town(region, tuple(villages[region.pk]), town_staff, words))
    if not towns:
        raise DemoSetupError("没有可用的镇街：请先载入区划、组织和人员（load_demo_people）")
    return tuple(towns)


def _town(
    region: Region,
    villages: tuple[Village, ...],
    staff: dict[Role, list[User]],
    words: dict[str, dict[str, Any]],
) -> Town:
    own = words.get(region.name, {})
    short = region.name[:2]
    return Town(
        region=region,
        slug=town_slug(region),
        weight=float(own.get("weight", 1.0)),
        villages=villages,
        staff=staff,
        roads=tuple(own.get("roads", [f"{short}大道", f"{short}大街"])),
        landmarks=tuple(own.get("landmarks", [f"{short}农贸市场"])),
    )


def load_world(seed: int) -> World:
    data = json.loads(STORIES_PATH.read_text(encoding="utf-8"))
    by_region, by_org = _memberships()
    city_wide = Region.objects.filter(level=Level.CITY).values_list("pk", flat=True)
    public = {
        role: [u for pk in city_wide for u in by_region.get((pk, role), [])]
        for role in (Role.RESIDENT, Role.VOLUNTEER)
    }
    return World(
        stories=_load_stories(data),
        texts=data["texts"],
        towns=_load_towns(data["towns"], by_region),
        orgs={o.code: o for o in Organisation.objects.filter(is_active=True).order_by("code")},
        handlers=dict(by_org),
        public=public,
        photos=photo_bank(seed),
    )


# ---------------------------------------------------------------- photos


def photo_bank(seed: int) -> PhotoBank:
    """A handful of small street scenes: cluttered ones before, tidy ones after disposal."""
    rng = random.Random(seed)
    before = tuple(_scene(rng, cluttered=True) for _ in range(6))
    after = tuple(_scene(rng, cluttered=False) for _ in range(4))
    return PhotoBank(before, after)


def _scene(rng: random.Random, *, cluttered: bool) -> bytes:
    width, height = PHOTO_SIZE
    sky = (rng.randint(150, 200), rng.randint(185, 215), rng.randint(215, 245))
    image = Image.new("RGB", PHOTO_SIZE, sky)
    draw = ImageDraw.Draw(image)
    horizon = rng.randint(95, 125)
    _buildings(draw, rng, horizon)
    ground = (110, 150, 90) if not cluttered else (135, 125, 100)
    draw.rectangle((0, horizon, width, height), fill=ground)
    left, right = rng.randint(110, 140), rng.randint(180, 210)
    draw.polygon(
        [(left, horizon), (right, horizon), (300, height), (20, height)], fill=(90, 90, 95)
    )
    for y in range(horizon + 10, height, 28):
        draw.rectangle((157, y, 163, y + 12), fill=(235, 235, 225))
    if cluttered:
        _clutter(draw, rng, horizon)
    else:
        _greenery(draw, rng, horizon)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def _buildings(draw: ImageDraw.ImageDraw, rng: random.Random, horizon: int) -> None:
    x = rng.randint(-20, 10)
    while x < PHOTO_SIZE[0]:
        w, h = rng.randint(40, 80), rng.randint(40, 90)
        tone = rng.randint(150, 215)
        draw.rectangle((x, horizon - h, x + w, horizon), fill=(tone, tone - 10, tone - 25))
        for wy in range(horizon - h + 8, horizon - 8, 14):
            for wx in range(x + 6, x + w - 8, 14):
                draw.rectangle((wx, wy, wx + 6, wy + 7), fill=(90, 110, 140))
        x += w + rng.randint(4, 18)


def _clutter(draw: ImageDraw.ImageDraw, rng: random.Random, horizon: int) -> None:
    cx, cy = rng.randint(40, 280), rng.randint(horizon + 40, 200)
    draw.ellipse((cx - 45, cy - 22, cx + 45, cy + 22), fill=(95, 80, 60))
    for _ in range(rng.randint(10, 18)):
        x, y = rng.randint(0, 310), rng.randint(horizon + 5, 232)
        colour = rng.choice(
            [(230, 230, 230), (40, 40, 40), (200, 50, 40), (40, 90, 190), (230, 200, 40)]
        )
        draw.rectangle((x, y, x + rng.randint(4, 12), y + rng.randint(3, 9)), fill=colour)


def _greenery(draw: ImageDraw.ImageDraw, rng: random.Random, horizon: int) -> None:
    for x in range(10, PHOTO_SIZE[0], rng.randint(55, 75)):
        if 100 < x < 220:
            continue
        draw.rectangle((x + 8, horizon + 10, x + 13, horizon + 40), fill=(100, 70, 40))
        draw.ellipse((x - 6, horizon - 18, x + 28, horizon + 18), fill=(50, 130, 60))


# ---------------------------------------------------------------- plans


@dataclass(frozen=True)
class Place:
    town: Town
    village: Village
    grid: Grid
    lat: float
    lon: float
    road: str
    number: int
    landmark: str
    where: str

    @property
    def address(self) -> str:
        return f"{self.town.region.name}{self.village.region.name} {self.road}{self.number}号附近"

    def words(self) -> dict[str, str]:
        return {
            "where": self.where,
            "village": self.village.region.name,
            "road": self.road,
            "no": str(self.number),
            "landmark": self.landmark,
        }


@dataclass(frozen=True)
class Reporter:
    source: Source
    user: User
    name: str = ""
    phone: str = ""
    anonymous: bool = False


@dataclass
class Flags:
    verify: bool = False
    route: str = "direct"  # direct | misroute (wrong unit returns it) | info (returned, re-sent)
    suspension: str = ""  # "" | approve | deny
    extension: str = ""  # "" | approve | deny
    late: bool = False
    reworks: int = 0
    reopen: bool = False
    upgrade: bool = False  # the clerk files it as urgent


@dataclass
class Step:
    at: timedelta  # after the report
    action: str
    state: str  # the case's state after the step
    params: dict[str, Any]


@dataclass
class Plan:
    index: int
    target: str
    story: Story
    place: Place
    reporter: Reporter
    urgency: Urgency
    flags: Flags
    template: str
    steps: list[Step] = field(default_factory=list)
    reported_at: datetime | None = None
    case: Case | None = None

    def at(self, step: Step) -> datetime:
        assert self.reported_at is not None
        return self.reported_at + step.at

    def open_until(self) -> datetime | None:
        for step in self.steps:
            if step.state in CLOSED_STATES:
                return self.at(step)
        return None


def quota(count: int) -> list[str]:
    """`count` targets in the proportions of SHARES (largest remainders round)."""
    exact = [(name, share * count) for name, share in SHARES]
    counts = {name: math.floor(value) for name, value in exact}
    by_remainder = sorted(exact, key=lambda item: -(item[1] - math.floor(item[1])))
    for name, _ in by_remainder[: count - sum(counts.values())]:
        counts[name] += 1
    return [name for name, _ in SHARES for _ in range(counts[name])]


def _weighted(rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(items, weights=weights)[0]


def _minutes(rng: random.Random, low: float, high: float, mode: float) -> timedelta:
    return timedelta(minutes=rng.triangular(low, high, mode))


def _limit(category: Category, urgency: str) -> timedelta:
    """The disposal time limit as the services count it (calendar hours or days)."""
    if urgency == Urgency.URGENT:
        value, unit = category.limit_urgent, category.limit_urgent_unit
    else:
        value, unit = category.limit_normal, category.limit_normal_unit
    if not value:
        return timedelta(days=1)
    return timedelta(days=value) if unit == LimitUnit.WORKING_DAYS else timedelta(hours=value)


def _pick_story(rng: random.Random, world: World, *, on_spot: bool) -> Story:
    stories = [s for s in world.stories if s.on_spot] if on_spot else list(world.stories)
    return _weighted(rng, stories or world.stories, [s.weight for s in stories or world.stories])


def _pick_place(rng: random.Random, world: World, *, need_worker: bool = False) -> Place:
    town = _weighted(rng, world.towns, [t.weight for t in world.towns])
    weights = [1.5 if v.region.kind == Kind.COMMUNITY else 1.0 for v in town.villages]
    village = _weighted(rng, town.villages, weights)
    grids = [g for g in village.grids if g.worker or not need_worker] or list(village.grids)
    return _place_in(rng, world, town, village, rng.choice(grids))


def _place_in(rng: random.Random, world: World, town: Town, village: Village, grid: Grid) -> Place:
    lat, lon = _point_in(rng, grid.shape)
    road, number, landmark = rng.choice(town.roads), rng.randint(1, 299), rng.choice(town.landmarks)
    spots = "community_spots" if village.region.kind == Kind.COMMUNITY else "village_spots"
    kind = rng.random()
    if kind < 0.5:
        where = village.region.name + rng.choice(world.texts[spots])
    elif kind < 0.8:
        where = f"{road}{number}号门口"
    else:
        where = landmark + rng.choice(world.texts["sides"])
    return Place(town, village, grid, lat, lon, road, number, landmark, where)


def _point_in(rng: random.Random, shape: BaseGeometry) -> tuple[float, float]:
    min_x, min_y, max_x, max_y = shape.bounds
    for _ in range(200):
        lon, lat = round(rng.uniform(min_x, max_x), 6), round(rng.uniform(min_y, max_y), 6)
        if shape.contains(Point(lon, lat)):
            return lat, lon
    point = shape.representative_point()
    return round(point.y, 6), round(point.x, 6)


def _reporter(rng: random.Random, world: World, place: Place, source: Source) -> Reporter:
    if source in CENTRE_SOURCES:
        return _centre_reporter(rng, world, place.town, source)
    if source == Source.GRID_WORKER and place.grid.worker is not None:
        return Reporter(source, place.grid.worker)
    return _public_reporter(rng, world, place.town, source)


def _public_reporter(rng: random.Random, world: World, town: Town, source: Source) -> Reporter:
    volunteers, residents = world.public[Role.VOLUNTEER], world.public[Role.RESIDENT]
    if source == Source.VOLUNTEER and volunteers:
        return Reporter(source, rng.choice(volunteers), anonymous=rng.random() < 0.1)
    people = residents or volunteers  # anyone may report as a resident
    if not people:
        return _centre_reporter(rng, world, town, Source.INSPECTION)
    return Reporter(Source.RESIDENT, rng.choice(people), anonymous=rng.random() < 0.3)


def _centre_reporter(rng: random.Random, world: World, town: Town, source: Source) -> Reporter:
    """Cases the centre registers: 12345 calls (by a clerk, with the caller's name and phone),
    leaders' instructions (by the shift lead) and findings on patrol (by a verifier)."""
    if source == Source.HOTLINE:
        caller = rng.choice(world.texts["surnames"]) + rng.choice(["先生", "女士"])
        phone = "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
        return Reporter(source, rng.choice(town.staff[Role.INTAKE_CLERK]), caller, phone)
    if source == Source.LEADER:
        key = "leaders_street" if town.region.kind == Kind.STREET else "leaders_town"
        title = rng.choice(world.texts[key] + world.texts["leaders_city"])
        return Reporter(source, rng.choice(town.staff[Role.SHIFT_LEAD]), title)
    return Reporter(Source.INSPECTION, rng.choice(town.staff[Role.VERIFIER]))


def _source(rng: random.Random, target: str) -> Source:
    if target == ON_SPOT:
        return Source.GRID_WORKER
    if target == State.DRAFT:  # drafts are saved in the app, not at the centre
        return _weighted(rng, [Source.RESIDENT, Source.VOLUNTEER, Source.GRID_WORKER], [4, 2, 3])
    sources, weights = zip(*SOURCE_WEIGHTS, strict=True)
    return _weighted(rng, sources, weights)


def _flags(rng: random.Random, target: str, reporter: Reporter, urgency: str) -> Flags:
    verify_p = 0.5 if reporter.anonymous else VERIFY_SHARE.get(reporter.source, 0.0)
    route = rng.random()
    flags = Flags(
        verify=rng.random() < verify_p,
        route="misroute" if route < 0.05 else "info" if route < 0.07 else "direct",
        suspension=_maybe(rng, 0.03, "approve", 0.7, "deny"),
        extension=_maybe(rng, 0.07, "approve", 0.75, "deny"),
        reworks=_weighted(rng, [0, 1, 2], [0.89, 0.09, 0.02]),
        reopen=rng.random() < 0.03,
        upgrade=urgency == Urgency.NORMAL and rng.random() < 0.03,
    )
    _force(rng, target, flags)
    late_p = {"deny": 0.6, "approve": 0.08}.get(flags.extension, 0.1)
    flags.late = rng.random() < late_p + (0.05 if urgency == Urgency.URGENT else 0)
    return flags


def _maybe(rng: random.Random, p: float, first: str, p_first: float, second: str) -> str:
    if rng.random() >= p:
        return ""
    return first if rng.random() < p_first else second


def _force(rng: random.Random, target: str, flags: Flags) -> None:
    """Make sure the path passes through the target state."""
    if target == State.VERIFYING:
        flags.verify = True
    elif target == State.RETURNED and flags.route == "direct":
        flags.route = rng.choice(["misroute", "info"])
    elif target == State.EXTENSION_REQUESTED and not flags.extension:
        flags.extension = rng.choice(["approve", "deny"])
    elif target == State.SUSPENSION_REQUESTED and not flags.suspension:
        flags.suspension = rng.choice(["approve", "deny"])
    elif target == State.SUSPENDED:
        flags.suspension = "approve"
    elif target == State.REWORK:
        flags.reworks = max(1, flags.reworks)
    elif target == State.REOPENED:
        flags.reopen = True


def new_plan(rng: random.Random, world: World, index: int, target: str) -> Plan:
    on_spot = target == ON_SPOT
    story = _pick_story(rng, world, on_spot=on_spot)
    place = _pick_place(rng, world, need_worker=on_spot)
    reporter = _reporter(rng, world, place, _source(rng, target))
    urgent_p = max(story.urgent, 0.4) if reporter.source == Source.LEADER else story.urgent
    urgency = Urgency.URGENT if rng.random() < urgent_p else Urgency.NORMAL
    flags = _flags(rng, target, reporter, urgency)
    template = rng.choice(story.descriptions)
    plan = Plan(index, target, story, place, reporter, urgency, flags, template)
    plan.steps = build_steps(rng, world, plan)
    return plan


# ---------------------------------------------------------------- paths


class PathBuilder:
    """The steps of one case, built forward in time from its report (offset 0)."""

    def __init__(self, rng: random.Random, world: World, plan: Plan) -> None:
        self.rng, self.world, self.plan = rng, world, plan
        self.town = plan.place.town
        self.category = plan.story.category
        self.steps: list[Step] = []
        self.t = timedelta(0)
        self.state: str = State.REPORTED
        self.urgency: str = plan.urgency
        self.due = timedelta(0)
        self.handler: User | None = None
        self.org: Organisation | None = None

    # -- helpers

    def act(
        self,
        action: str,
        state: str | None = None,
        *,
        delay: timedelta | None = None,
        **params: Any,
    ) -> None:
        """Append a step `delay` (by default a typical wait for the action) after the last."""
        self.t += max(delay if delay is not None else self.wait(action), MIN_GAP)
        self.state = state or self.state
        self.steps.append(Step(self.t, action, self.state, params))

    def wait(self, key: str) -> timedelta:
        return _minutes(self.rng, *DELAYS[key])

    def text(self, key: str, **values: str) -> str:
        return self.world.text(self.rng, key, **values)

    def staff(self, role: Role) -> User:
        return self.rng.choice(self.town.staff[role])

    def limit(self) -> timedelta:
        return _limit(self.category, self.urgency)

    def unit_user(self) -> User:
        assert self.handler is not None, "no unit holds the case"
        return self.handler

    def on_site(self) -> User:
        worker = self.plan.place.grid.worker
        return worker if worker is not None else self.staff(Role.VERIFIER)

    # -- intake

    def report(self, *, draft: bool = False) -> None:
        source = self.plan.reporter.source
        if source == Source.HOTLINE:
            count = 0  # callers send no photos; the grid worker takes them on site
        elif source == Source.LEADER:
            count = self.rng.randint(0, 1)
        else:
            count = 1 if draft else self.rng.choice([1, 1, 2])
        photos = self.world.photos.pick(self.rng, "before", count)
        self.state = State.DRAFT if draft else State.REPORTED
        params = {"photos": photos, "draft": draft}
        self.steps.append(Step(timedelta(0), "report", self.state, params))

    def verify(self, *, exists: bool) -> None:
        hotline = self.plan.reporter.source == Source.HOTLINE
        note = self.text("verify_request_hotline" if hotline else "verify_request")
        clerk = self.staff(Role.INTAKE_CLERK)
        self.act("request_verification", State.VERIFYING, by=clerk, note=note)
        photos = self.world.photos.pick(self.rng, "before" if exists else "after")
        note = self.text("confirm_exists" if exists else "confirm_missing")
        self.act("confirm_on_site", by=self.on_site(), exists=exists, note=note, photos=photos)

    def file(self) -> None:
        upgrade = self.plan.flags.upgrade and self.urgency == Urgency.NORMAL
        if upgrade:
            self.urgency = Urgency.URGENT
        delay = self.wait("file_verified" if self.state == State.VERIFYING else "file")
        note = self.text("file_urgent" if upgrade else "file")
        urgency = Urgency.URGENT if upgrade else None
        clerk = self.staff(Role.INTAKE_CLERK)
        self.act("file", State.FILED, delay=delay, by=clerk, urgency=urgency, note=note)
        self.due = self.t + self.limit()

    def reject(self, reason: RejectReason) -> None:
        note = self.text(f"reject_{reason.value}")
        clerk = self.staff(Role.INTAKE_CLERK)
        self.act("reject", State.REJECTED, by=clerk, reason=reason, note=note)

    # -- dispatch

    def right_org(self) -> Organisation:
        return self.world.owner_org(self.town, self.category.default_owner)

    def dispatch(self, org: Organisation, *, again: bool = False, note: str = "") -> None:
        # Sending a case on is quick: well within the disposal time limit.
        delay = (
            self.wait("redispatch") if again else min(self.wait("dispatch"), self.limit() * 0.15)
        )
        note = note or self.text("dispatch")
        by = self.staff(Role.DISPATCHER)
        self.act("dispatch", State.DISPATCHED, delay=delay, by=by, to=org, note=note)
        self.org, self.handler = org, self.rng.choice(self.world.handlers[org.pk])

    def give_back(self, reason: ReturnReason, note: str) -> None:
        self.act("return", State.RETURNED, by=self.unit_user(), reason=reason, note=note)
        self.org = None

    def route(self, kind: str) -> None:
        right = self.right_org()
        if kind == "misroute":
            wrong = self.world.wrong_org(self.town, self.category.default_owner, right)
            self.dispatch(wrong)
            note = self.text("return_not_our_duty", right=right.name)
            self.give_back(ReturnReason.NOT_OUR_DUTY, note)
            self.dispatch(right, again=True, note=self.text("reroute", right=right.name))
        elif kind == "info":
            self.dispatch(right)
            self.give_back(ReturnReason.INSUFFICIENT_INFO, self.text("return_insufficient_info"))
            self.dispatch(right, again=True, note=self.text("redispatch"))
        else:
            self.dispatch(right)

    # -- disposal

    def claim(self) -> None:
        delay = min(self.wait("claim"), self.limit() * 0.25)
        self.act("claim", State.ACCEPTED, delay=delay, by=self.unit_user(), note=self.text("claim"))

    def suspension(self, decision: str) -> None:
        note = self.text("suspension")
        self.act("request_suspension", State.SUSPENSION_REQUESTED, by=self.unit_user(), note=note)
        approve = decision == "approve"
        state = State.SUSPENDED if approve else State.ACCEPTED
        note = self.text("suspension_approved" if approve else "suspension_denied")
        by = self.staff(Role.DISPATCHER)
        self.act("decide_suspension", state, by=by, approve=approve, note=note)
        if approve:
            delay = timedelta(days=self.rng.uniform(1, 10))
            by = self.staff(Role.DISPATCHER)
            self.act("resume", State.ACCEPTED, delay=delay, by=by, note=self.text("resume"))

    def extension(self, decision: str) -> None:
        remaining = max(self.due - self.t, timedelta(minutes=20))
        delay = remaining * self.rng.uniform(0.3, 0.7)  # asked for before the deadline
        reasons = self.plan.story.extension or tuple(self.world.texts["extension"])
        extra = max(self.limit() * self.rng.uniform(1, 2), timedelta(hours=4))
        extra = timedelta(hours=math.ceil(extra / timedelta(hours=1)))
        note = self.rng.choice(reasons)
        by = self.unit_user()
        state = State.EXTENSION_REQUESTED
        self.act("request_extension", state, delay=delay, by=by, extra=extra, note=note)
        requested = self.t
        approve = decision == "approve"
        note = self.text("extension_approved" if approve else "extension_denied")
        by = self.staff(Role.DISPATCHER)
        self.act("decide_extension", State.ACCEPTED, by=by, approve=approve, note=note)
        if approve:
            self.due = max(self.due, requested) + extra

    def submit(self, *, late: bool = False, rework: bool = False) -> None:
        remaining = self.due - self.t
        if rework:
            delay = self.wait("resubmit")
        elif late or remaining < timedelta(minutes=15):
            overdue = self.limit() * self.rng.uniform(0.1, 0.8) + timedelta(minutes=10)
            delay = max(remaining, timedelta(0)) + overdue
        else:
            delay = remaining * self.rng.uniform(0.3, 0.92)
        photos = self.world.photos.pick(self.rng, "after", self.rng.choice([1, 1, 2]))
        note = self.rng.choice(self.plan.story.fixes)
        by = self.unit_user()
        self.act("submit", State.SUBMITTED, delay=delay, by=by, photos=photos, note=note)

    def check(self, *, passed: bool) -> None:
        worker = self.plan.place.grid.worker
        by = worker if worker is not None and self.rng.random() < 0.3 else None
        by = by or self.staff(Role.VERIFIER)
        if passed:
            note, state = self.text("check_pass"), None
        else:
            note = self.rng.choice(self.plan.story.rework or tuple(self.world.texts["rework"]))
            state = State.REWORK
        kind = "after" if passed else "before"
        photos = self.world.photos.pick(self.rng, kind, self.rng.randint(0, 1))
        self.act("check", state, by=by, passed=passed, note=note, photos=photos)

    def close(self) -> None:
        no_action = self.rng.random() < 0.04
        reason = ClosureReason.NO_FURTHER_ACTION if no_action else ClosureReason.FIXED
        note = self.text("close_no_action" if no_action else "close")
        lead = self.staff(Role.SHIFT_LEAD)
        self.act("close", State.CLOSED, by=lead, reason=reason, note=note)

    def reopen(self) -> None:
        reporter = self.plan.reporter
        by_reporter = reporter.source in PUBLIC_SOURCES and not reporter.anonymous
        by = reporter.user if by_reporter else self.staff(Role.INTAKE_CLERK)
        note = self.text("reopen_reporter" if by_reporter else "reopen_centre")
        self.act("reopen", State.REOPENED, by=by, note=note)

    # -- notes

    def note(self, p: float, by: User, key: str, *, public: bool, **values: str) -> None:
        if self.rng.random() < p:
            self.act("note", by=by, text=self.text(key, **values), is_public=public)

    def reporter_update(self, p: float) -> None:
        reporter = self.plan.reporter
        if reporter.source in PUBLIC_SOURCES and not reporter.anonymous:
            self.note(p, reporter.user, "reporter_updates", public=True)

    # -- whole paths

    def loop(self) -> None:
        """Report to closed, with this plan's detours; cut later at the target state."""
        flags = self.plan.flags
        self.report()
        if flags.verify:
            self.verify(exists=True)
        self.file()
        self.reporter_update(0.06)
        self.route(flags.route)
        unit = self.org.name if self.org else ""
        self.note(0.2, self.staff(Role.INTAKE_CLERK), "public_updates", public=True, unit=unit)
        self.claim()
        self.note(0.12, self.staff(Role.DISPATCHER), "internal_notes", public=False)
        if flags.suspension:
            self.suspension(flags.suspension)
        if flags.extension:
            self.extension(flags.extension)
        self.dispose(late=flags.late, reworks=flags.reworks)
        if flags.reopen:
            self.reopen()
            self.file()
            self.route("direct")
            self.claim()
            self.dispose(late=False, reworks=0)

    def dispose(self, *, late: bool, reworks: int) -> None:
        self.submit(late=late)
        for _ in range(reworks):
            self.check(passed=False)
            self.submit(rework=True)
        self.check(passed=True)
        self.close()

    def rejected(self) -> None:
        self.report()
        mode = self.rng.random()
        if mode < 0.45:
            self.verify(exists=False)
            reason = self.rng.choice([RejectReason.INVALID, RejectReason.RESOLVED])
        elif mode < 0.85:
            reason = self.rng.choice([RejectReason.OUT_OF_SCOPE, RejectReason.INVALID])
        else:
            self.file()
            self.dispatch(self.right_org())
            self.give_back(ReturnReason.OTHER, self.text("return_out_of_scope"))
            reason = RejectReason.OUT_OF_SCOPE
        self.reject(reason)

    def duplicate(self, parent: Plan, delay: timedelta) -> None:
        self.report()
        note = self.text("merge")
        clerk = self.staff(Role.INTAKE_CLERK)
        self.act("merge", State.MERGED, delay=delay, by=clerk, into=parent, note=note)

    def on_spot(self) -> None:
        params = {
            "before": self.world.photos.pick(self.rng, "before"),
            "after": self.world.photos.pick(self.rng, "after"),
            "note": self.text("on_spot"),
        }
        self.steps.append(Step(timedelta(0), "resolve_on_spot", State.CLOSED, params))


def build_steps(rng: random.Random, world: World, plan: Plan) -> list[Step]:
    path = PathBuilder(rng, world, plan)
    if plan.target == ON_SPOT:
        path.on_spot()
    elif plan.target == State.DRAFT:
        path.report(draft=True)
    elif plan.target == State.REJECTED:
        path.rejected()
    else:
        path.loop()
        return path.steps[: _stop_index(rng, path.steps, plan.target) + 1]
    return path.steps


def _stop_index(rng: random.Random, steps: list[Step], target: str) -> int:
    """Where a loop path is cut to leave the case in `target`: any step after which the case
    is in that state (before it is first closed; reopened comes after)."""
    closed = next((i for i, s in enumerate(steps) if s.state == State.CLOSED), len(steps))
    if target == State.REOPENED:
        return next(i for i, s in enumerate(steps) if s.state == State.REOPENED)
    if target == State.CLOSED:
        return len(steps) - 1
    hits = [i for i in range(closed) if steps[i].state == target]
    return rng.choice(hits)


# ---------------------------------------------------------------- time


def schedule(rng: random.Random, plan: Plan, now: datetime, days: int) -> None:
    """Choose when the case was reported: inside the window, busier on weekdays and by day,
    with its last step before now (and, for open cases, recently)."""
    start, latest = now - timedelta(days=days), now - MARGIN
    duration = plan.steps[-1].at
    recent = timedelta(days=RECENT_DAYS.get(plan.target, days))
    low, high = max(start, latest - duration - recent), latest - duration
    if high < low:
        _compress(plan.steps, latest - start)
        plan.reported_at = start
    else:
        plan.reported_at = sample_time(rng, low, high)


def _compress(steps: list[Step], span: timedelta) -> None:
    scale = (span - timedelta(seconds=len(steps))) / steps[-1].at if steps[-1].at else 0
    previous = -timedelta(seconds=1)
    for step in steps:
        step.at = max(step.at * scale, previous + timedelta(seconds=1))
        previous = step.at


def sample_time(rng: random.Random, low: datetime, high: datetime) -> datetime:
    span = (high - low).total_seconds()
    top = max(HOUR_WEIGHTS)
    for _ in range(100):
        at = low + timedelta(seconds=rng.uniform(0, span))
        local = at.astimezone(clock.SHANGHAI)
        weight = HOUR_WEIGHTS[local.hour] * (1.0 if local.weekday() < 5 else WEEKEND_FACTOR)
        if rng.random() * top < weight:
            return at
    return low + timedelta(seconds=rng.uniform(0, span))


def _time_words(hour: int) -> str:
    if hour == 0:
        return "半夜12点"
    if hour < 5:
        return f"凌晨{hour}点"
    if hour < 9:
        return f"早上{hour}点"
    if hour < 12:
        return f"上午{hour}点"
    if hour < 14:
        return "中午"
    if hour < 18:
        return f"下午{hour - 12}点"
    return "傍晚" if hour == 18 else f"晚上{hour - 12}点"


def describe(plan: Plan) -> str:
    assert plan.reported_at is not None
    hour = plan.reported_at.astimezone(clock.SHANGHAI).hour
    text = plan.template.format(time=_time_words(hour), **plan.place.words())
    source = plan.reporter.source
    if source == Source.HOTLINE:
        return f"12345热线来电：{plan.reporter.name}反映，{text}，请核实处理。"
    if source == Source.LEADER:
        return f"领导交办：{text}，请尽快处置并反馈结果。"
    if source == Source.INSPECTION:
        return f"日常巡查发现：{text}。"
    return f"{text}。"


# ---------------------------------------------------------------- duplicates

DUPLICATE_SOURCES = (Source.RESIDENT, Source.VOLUNTEER, Source.HOTLINE, Source.GRID_WORKER)


def merged_plan(
    rng: random.Random, world: World, index: int, plans: list[Plan], now: datetime
) -> Plan | None:
    """A second report of the same problem, merged into an earlier case that is still open
    when the clerk merges it; None when no case fits."""
    candidates = [p for p in plans if p.target not in (ON_SPOT, State.DRAFT, State.REJECTED)]
    rng.shuffle(candidates)
    for parent in candidates:
        reported = parent.at(parent.steps[0]) + _minutes(rng, *DELAYS["duplicate"])
        merge_after = _minutes(rng, *DELAYS["merge"])
        until = parent.open_until()
        merged_at = reported + merge_after
        if merged_at <= now - MARGIN and (until is None or merged_at < until):
            return _duplicate_of(rng, world, index, parent, reported, merge_after)
    return None


def _duplicate_of(
    rng: random.Random,
    world: World,
    index: int,
    parent: Plan,
    reported: datetime,
    merge_after: timedelta,
) -> Plan:
    old = parent.place
    place = _place_in(rng, world, old.town, old.village, old.grid)
    source = _weighted(rng, DUPLICATE_SOURCES, [35, 15, 35, 15])
    reporter = _reporter(rng, world, place, source)
    story, template = parent.story, rng.choice(parent.story.descriptions)
    plan = Plan(index, State.MERGED, story, place, reporter, parent.urgency, Flags(), template)
    path = PathBuilder(rng, world, plan)
    path.duplicate(parent, merge_after)
    plan.steps, plan.reported_at = path.steps, reported
    return plan


# ---------------------------------------------------------------- running the plans

_SERVICES: dict[str, Callable[..., object]] = {
    "request_verification": services.case_request_verification,
    "confirm_on_site": services.case_confirm_on_site,
    "file": services.case_file,
    "reject": services.case_reject,
    "return": services.case_return,
    "claim": services.case_claim,
    "decide_extension": services.case_decide_extension,
    "request_suspension": services.case_request_suspension,
    "decide_suspension": services.case_decide_suspension,
    "resume": services.case_resume,
    "submit": services.case_submit,
    "check": services.case_check,
    "close": services.case_close,
    "reopen": services.case_reopen,
    "note": services.case_add_note,
}


def _case(plan: Plan) -> Case:
    assert plan.case is not None, f"plan {plan.index} has no case yet"
    return plan.case


def _report(plan: Plan, step: Step) -> None:
    reporter = plan.reporter
    plan.case = services.case_report(
        by=reporter.user,
        category=plan.story.category,
        description=describe(plan),
        lat=plan.place.lat,
        lon=plan.place.lon,
        address=plan.place.address,
        urgency=plan.urgency,
        photos=step.params["photos"],
        is_anonymous=reporter.anonymous,
        source=reporter.source,
        reporter_name=reporter.name,
        reporter_phone=reporter.phone,
        draft=step.params["draft"],
    )


def _resolve_on_spot(plan: Plan, step: Step) -> None:
    plan.case = services.case_resolve_on_spot(
        by=plan.reporter.user,
        category=plan.story.category,
        description=describe(plan),
        lat=plan.place.lat,
        lon=plan.place.lon,
        address=plan.place.address,
        **step.params,
    )


def _request_extension(plan: Plan, step: Step) -> None:
    case, params = _case(plan), dict(step.params)
    start = max(case.due_at or clock.now(), clock.now())
    until = start + params.pop("extra")
    services.case_request_extension(case=case, until=until, **params)


def _dispatch(plan: Plan, step: Step) -> None:
    """Dispatch, unless a routing rule already did when the case was filed: keep that when it
    chose the planned unit, else take the case back (撤回) first."""
    case, params = _case(plan), step.params
    if case.state == State.DISPATCHED:
        if case.assigned_org_id == params["to"].pk:
            return
        services.case_recall(case=case, by=params["by"], note=RECALL_NOTE)
    services.case_dispatch(case=case, **params)


def _merge(plan: Plan, step: Step) -> None:
    params = dict(step.params)
    parent: Plan = params.pop("into")
    services.case_merge(case=_case(plan), into=_case(parent), **params)


_SPECIAL: dict[str, Callable[[Plan, Step], None]] = {
    "report": _report,
    "resolve_on_spot": _resolve_on_spot,
    "dispatch": _dispatch,
    "request_extension": _request_extension,
    "merge": _merge,
}


def run_step(plan: Plan, step: Step) -> None:
    at = plan.at(step)
    try:
        with clock.frozen(at):
            special = _SPECIAL.get(step.action)
            if special is not None:
                special(plan, step)
            else:
                _SERVICES[step.action](case=_case(plan), **step.params)
    except Exception as exc:
        number = plan.case.number if plan.case else "-"
        exc.add_note(f"demo case #{plan.index} {number} ({plan.target}): {step.action} at {at}")
        raise


def run_plans(plans: list[Plan], *, progress: bool = False) -> None:
    """Every step of every plan, in time order across cases (as they happened)."""
    queue = [(plan.at(plan.steps[0]), plan.index, 0) for plan in plans]
    heapq.heapify(queue)
    by_index = {plan.index: plan for plan in plans}
    with tqdm(total=len(plans), desc="演示案件", unit="件", disable=not progress) as bar:
        while queue:
            _, index, number = heapq.heappop(queue)
            plan = by_index[index]
            run_step(plan, plan.steps[number])
            if number + 1 < len(plan.steps):
                following = plan.steps[number + 1]
                heapq.heappush(queue, (plan.at(following), index, number + 1))
            else:
                bar.update()


def make_plans(world: World, *, seed: int, count: int, days: int, now: datetime) -> list[Plan]:
    """What happens to each case, and when. Times come from their own random stream, so that
    the stories of a seed do not depend on "now"."""
    rng, times = random.Random(seed), random.Random(f"{seed}:times")
    targets = quota(count)
    rng.shuffle(targets)
    plans: list[Plan] = []
    duplicates: list[int] = []
    for index, target in enumerate(targets):
        if target == State.MERGED:
            duplicates.append(index)
            continue
        plan = new_plan(rng, world, index, target)
        schedule(times, plan, now, days)
        plans.append(plan)
    for index in duplicates:
        duplicate = merged_plan(rng, world, index, plans, now)
        if duplicate is None:  # no case open at the right time: a rejected report instead
            duplicate = new_plan(rng, world, index, State.REJECTED)
            schedule(times, duplicate, now, days)
        plans.append(duplicate)
    return plans


def load_demo_cases(
    *, count: int = 500, days: int = 90, seed: int = 2026, progress: bool = False
) -> int:
    """Create `count` cases reported over the last `days` days, entirely through the case
    services; returns how many were created: 0 when the database already has cases."""
    with transaction.atomic():
        if count <= 0 or Case.objects.exists():
            return 0
        world = load_world(seed)
        plans = make_plans(world, seed=seed, count=count, days=days, now=clock.now())
        run_plans(plans, progress=progress)
    return len(plans)
