"""Demo organisations and people for Yiwu: one named account per role, plus the staff every
town needs so that demo cases can move through the whole loop.

The demo password is printed by `civicloop demo`; it is for a local demo database only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from civicloop.accounts.models import Membership, Organisation, OrgKind, Role, User
from civicloop.accounts.services import membership_grant
from civicloop.regions.models import Level, Region

DEMO_PASSWORD = "civicloop2026"

PLATFORMS = [
    ("zzgz", "综治工作平台"),
    ("scjg", "市场监管平台"),
    ("zhzf", "综合执法平台"),
    ("bmfw", "便民服务平台"),
]
# Responsible units of every town; codes match cases/data/categories.json default_owner.
TOWN_UNITS = [
    ("cgb", "综合行政执法中队"),
    ("hw", "环卫所"),
    ("yl", "园林绿化所"),
    ("sz", "市政所"),
    ("zz", "综治办"),
]
CITY_UNITS = [
    ("hb", "金华市生态环境局义乌分局"),
    ("jt", "义乌市公安局交警大队"),
    ("sj", "义乌市市场监督管理局"),
    ("jd", "义乌市住房和城乡建设局"),
    ("sw", "义乌市水务局"),
]


@dataclass(frozen=True)
class DemoAccount:
    mobile: str
    name: str
    role: Role
    where: str


# One named account per role, all in 稠城街道 / 孝子祠社区 where the seed's stories happen.
NAMED = [
    ("13900000001", "王芳", Role.RESIDENT),
    ("13900000002", "陈红", Role.VOLUNTEER),
    ("13900000003", "李强", Role.GRID_WORKER),
    ("13900000004", "陈静", Role.INTAKE_CLERK),
    ("13900000005", "张伟", Role.DISPATCHER),
    ("13900000006", "刘洋", Role.SHIFT_LEAD),
    ("13900000007", "赵磊", Role.UNIT_HANDLER),
    ("13900000008", "孙丽", Role.UNIT_HEAD),
    ("13900000009", "周敏", Role.VERIFIER),
    ("13900000010", "黄海", Role.EVALUATOR),
    ("13900000011", "吴建国", Role.ADMINISTRATOR),
]

# Per-town staff: (mobile suffix, name prefix, role).
TOWN_STAFF = [
    (1, "受理员", Role.INTAKE_CLERK),
    (2, "派遣员", Role.DISPATCHER),
    (3, "值班长", Role.SHIFT_LEAD),
    (4, "核查员", Role.VERIFIER),
]


def town_slug(town: Region) -> str:
    return town.code[:9]


def _org(
    code: str, name: str, kind: OrgKind, region: Region, parent: Organisation | None = None
) -> Organisation:
    org, _ = Organisation.objects.update_or_create(
        code=code, defaults={"name": name, "kind": kind, "region": region, "parent": parent}
    )
    return org


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "文",
    "华",
    "志强",
    "晓东",
    "海燕",
    "春梅",
    "国庆",
    "建平",
    "丽娟",
    "小红",
    "永强",
    "婷",
    "雪",
    "鹏",
    "浩",
    "宇",
    "欣",
]


def person_name(index: int) -> str:
    """A plausible, deterministic Chinese name for the n-th generated demo person."""
    return (
        SURNAMES[index % len(SURNAMES)] + GIVEN[(index * 7 + index // len(SURNAMES)) % len(GIVEN)]
    )


def _user(mobile: str, name: str, *, superuser: bool = False) -> User:
    user = User.objects.filter(mobile=mobile).first()
    if user is None:
        create = User.objects.create_superuser if superuser else User.objects.create_user
        user = create(mobile, DEMO_PASSWORD, name=name)
    return user


@transaction.atomic
def load_demo_organisations() -> int:
    city = Region.objects.get(level=Level.CITY)
    centre = _org("yw-center", "义乌市社会治理综合指挥中心", OrgKind.CITY_CENTRE, city)
    for code, name in CITY_UNITS:
        _org(f"yw-{code}", name, OrgKind.DEPARTMENT, city, centre)
    for town in Region.objects.filter(level=Level.TOWN):
        slug = town_slug(town)
        town_centre = _org(
            f"{slug}-center", f"{town.name}综合信息指挥室", OrgKind.TOWN_CENTRE, town, centre
        )
        for code, name in PLATFORMS:
            _org(f"{slug}-{code}", f"{town.name}{name}", OrgKind.PLATFORM, town, town_centre)
        for code, name in TOWN_UNITS:
            _org(f"{slug}-{code}", f"{town.name}{name}", OrgKind.DEPARTMENT, town, town_centre)
    return Organisation.objects.count()


def _prefixes(path: str) -> list[str]:
    codes = [c for c in path.split("/") if c]
    return ["/" + "/".join(codes[:n]) + "/" for n in range(1, len(codes) + 1)]


def _xiaozici_grid() -> Region:
    village = Region.objects.get(level=Level.VILLAGE, name="孝子祠社区")
    return village.children.order_by("code").first() or village


@transaction.atomic
def load_demo_people() -> list[DemoAccount]:
    """Create the demo accounts (idempotent) and return the named ones for printing."""
    city = Region.objects.get(level=Level.CITY)
    grid = _xiaozici_grid()
    town = Region.objects.get(level=Level.TOWN, path__in=_prefixes(grid.path))
    slug = town_slug(town)
    centre = Organisation.objects.get(code=f"{slug}-center")
    sanitation = Organisation.objects.get(code=f"{slug}-hw")
    scope = {
        Role.RESIDENT: (city, None),
        Role.VOLUNTEER: (city, None),
        Role.GRID_WORKER: (grid, None),
        Role.INTAKE_CLERK: (town, centre),
        Role.DISPATCHER: (town, centre),
        Role.SHIFT_LEAD: (town, centre),
        Role.UNIT_HANDLER: (town, sanitation),
        Role.UNIT_HEAD: (town, sanitation),
        Role.VERIFIER: (town, centre),
        Role.EVALUATOR: (city, Organisation.objects.get(code="yw-center")),
        Role.ADMINISTRATOR: (city, Organisation.objects.get(code="yw-center")),
    }
    named = []
    for mobile, name, role in NAMED:
        user = _user(mobile, name, superuser=role == Role.ADMINISTRATOR)
        region, org = scope[role]
        membership_grant(user=user, role=role, region=region, organisation=org)
        named.append(DemoAccount(mobile, name, role, org.name if org else region.name))
    _load_town_staff()
    _load_grid_workers()
    _load_public(city)
    return named


def _load_public(city: Region) -> None:
    """More residents and volunteers, so demo reports come from many people."""
    for number in range(1, 31):
        user = _user(f"1390002{number:04d}", person_name(3000 + number))
        membership_grant(user=user, role=Role.RESIDENT, region=city)
    for number in range(1, 16):
        user = _user(f"1390003{number:04d}", person_name(3100 + number))
        membership_grant(user=user, role=Role.VOLUNTEER, region=city)


def _load_town_staff() -> None:
    for index, town in enumerate(Region.objects.filter(level=Level.TOWN).order_by("code"), 1):
        slug = town_slug(town)
        centre = Organisation.objects.get(code=f"{slug}-center")
        for suffix, _title, role in TOWN_STAFF:
            user = _user(f"137{index:02d}0000{suffix:02d}", person_name(index * 50 + suffix))
            membership_grant(user=user, role=role, region=town, organisation=centre)
        units = Organisation.objects.filter(
            region=town, kind__in=[OrgKind.DEPARTMENT, OrgKind.PLATFORM]
        )
        for number, unit in enumerate(units.order_by("code"), 10):
            user = _user(f"137{index:02d}0000{number:02d}", person_name(index * 50 + number))
            membership_grant(user=user, role=Role.UNIT_HANDLER, region=town, organisation=unit)
    for number, unit in enumerate(
        Organisation.objects.filter(region__level=Level.CITY, kind=OrgKind.DEPARTMENT).order_by(
            "code"
        ),
        1,
    ):
        user = _user(f"1360000{number:04d}", person_name(2000 + number))
        membership_grant(user=user, role=Role.UNIT_HANDLER, region=unit.region, organisation=unit)


def _load_grid_workers() -> None:
    """One grid worker per grid (李强 already has the first grid of 孝子祠社区)."""
    taken = set(
        Membership.objects.filter(role=Role.GRID_WORKER).values_list("region_id", flat=True)
    )
    grids = Region.objects.filter(level=Level.GRID).exclude(pk__in=taken).order_by("code")
    for number, grid in enumerate(grids, 1):
        user = _user(f"1350{number:07d}", person_name(1000 + number))
        membership_grant(user=user, role=Role.GRID_WORKER, region=grid)
