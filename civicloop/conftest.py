"""Fixtures shared by every app's tests: a small piece of Yiwu, its organisations and the
named personas who work in it."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from civicloop.accounts.models import Organisation, OrgKind, Role, User
from civicloop.accounts.services import membership_grant, user_create
from civicloop.cases.categories import categories_load
from civicloop.regions.models import Kind, Level, Region
from civicloop.regions.services import region_create


def square(lat: float, lon: float, size: float = 0.01) -> dict[str, Any]:
    """A GeoJSON polygon with its south-west corner at (lat, lon)."""
    ring = [
        [lon, lat],
        [lon + size, lat],
        [lon + size, lat + size],
        [lon, lat + size],
        [lon, lat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


@dataclass
class World:
    city: Region
    town: Region
    village: Region
    grid: Region
    grid2: Region
    other_town: Region
    other_grid: Region
    town_centre: Organisation
    sanitation: Organisation
    parks: Organisation
    other_centre: Organisation
    other_sanitation: Organisation


# Points inside the grids of the world below.
IN_GRID = (29.305, 120.075)
IN_GRID2 = (29.305, 120.085)
IN_OTHER_TOWN = (29.345, 120.075)
OUTSIDE = (30.5, 121.5)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    # Real hashing costs ~0.3 s per user; tests create a dozen.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
        "private": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "private"},
        },
    }


def _region(
    code: str, name: str, level: Level, kind: Kind, parent: Region | None, **kw: Any
) -> Region:
    return region_create(code=code, name=name, level=level, kind=kind, parent=parent, **kw)


@pytest.fixture
def world(db: None) -> World:
    city = _region(
        "330782000000", "义乌市", Level.CITY, Kind.CITY, None, boundary=square(29.30, 120.07, 0.05)
    )
    town = _region(
        "330782001000",
        "稠城街道",
        Level.TOWN,
        Kind.STREET,
        city,
        boundary=square(29.30, 120.07, 0.02),
    )
    village = _region(
        "330782001001",
        "孝子祠社区",
        Level.VILLAGE,
        Kind.COMMUNITY,
        town,
        boundary=square(29.30, 120.07, 0.02),
    )
    grid = _region(
        "330782001001001",
        "孝子祠社区第一网格",
        Level.GRID,
        Kind.GRID,
        village,
        boundary=square(29.30, 120.07),
    )
    grid2 = _region(
        "330782001001002",
        "孝子祠社区第二网格",
        Level.GRID,
        Kind.GRID,
        village,
        boundary=square(29.30, 120.08),
    )
    other_town = _region(
        "330782002000",
        "北苑街道",
        Level.TOWN,
        Kind.STREET,
        city,
        boundary=square(29.34, 120.07, 0.01),
    )
    other_village = _region(
        "330782002001",
        "银苑社区",
        Level.VILLAGE,
        Kind.COMMUNITY,
        other_town,
        boundary=square(29.34, 120.07, 0.01),
    )
    other_grid = _region(
        "330782002001001",
        "银苑社区第一网格",
        Level.GRID,
        Kind.GRID,
        other_village,
        boundary=square(29.34, 120.07),
    )

    def org(code: str, name: str, kind: OrgKind, region: Region) -> Organisation:
        return Organisation.objects.create(code=code, name=name, kind=kind, region=region)

    return World(
        city=city,
        town=town,
        village=village,
        grid=grid,
        grid2=grid2,
        other_town=other_town,
        other_grid=other_grid,
        town_centre=org("ccjd-center", "稠城街道综合信息指挥室", OrgKind.TOWN_CENTRE, town),
        sanitation=org("ccjd-hw", "稠城街道环卫所", OrgKind.DEPARTMENT, town),
        parks=org("ccjd-yl", "稠城街道园林所", OrgKind.DEPARTMENT, town),
        other_centre=org("byjd-center", "北苑街道综合信息指挥室", OrgKind.TOWN_CENTRE, other_town),
        other_sanitation=org("byjd-hw", "北苑街道环卫所", OrgKind.DEPARTMENT, other_town),
    )


@dataclass
class People:
    resident: User  # 居民 王芳
    volunteer: User  # 志愿者 陈红
    grid_worker: User  # 网格员 李强 (孝子祠社区第一网格)
    clerk: User  # 受理员 陈静 (稠城)
    dispatcher: User  # 派遣员 张伟 (稠城)
    shift_lead: User  # 值班长 刘洋 (稠城)
    verifier: User  # 核查员 周敏 (稠城)
    handler: User  # 环卫所 处置员 赵磊
    parks_handler: User  # 园林所 处置员 孙丽
    other_clerk: User  # 北苑街道 受理员 吴军
    other_handler: User  # 北苑街道环卫所 处置员 郑涛
    stranger: User  # 无任何角色的 钱多多


@pytest.fixture
def people(world: World) -> People:
    def person(
        mobile: str,
        name: str,
        role: Role | None,
        region: Region | None = None,
        org: Organisation | None = None,
    ) -> User:
        user = user_create(mobile=mobile, name=name, password="demo-pass-2026")
        if role is not None and region is not None:
            membership_grant(user=user, role=role, region=region, organisation=org)
        return user

    w = world
    return People(
        resident=person("13800000001", "王芳", Role.RESIDENT, w.city),
        volunteer=person("13800000002", "陈红", Role.VOLUNTEER, w.city),
        grid_worker=person("13800000003", "李强", Role.GRID_WORKER, w.grid),
        clerk=person("13800000004", "陈静", Role.INTAKE_CLERK, w.town, w.town_centre),
        dispatcher=person("13800000005", "张伟", Role.DISPATCHER, w.town, w.town_centre),
        shift_lead=person("13800000006", "刘洋", Role.SHIFT_LEAD, w.town, w.town_centre),
        verifier=person("13800000007", "周敏", Role.VERIFIER, w.town, w.town_centre),
        handler=person("13800000008", "赵磊", Role.UNIT_HANDLER, w.town, w.sanitation),
        parks_handler=person("13800000009", "孙丽", Role.UNIT_HANDLER, w.town, w.parks),
        other_clerk=person("13800000010", "吴军", Role.INTAKE_CLERK, w.other_town, w.other_centre),
        other_handler=person(
            "13800000011", "郑涛", Role.UNIT_HANDLER, w.other_town, w.other_sanitation
        ),
        stranger=person("13800000012", "钱多多", None),
    )


CATEGORY_DATA = [
    {
        "kind": "event",
        "code": "01",
        "name": "市容环境",
        "children": [
            {
                "code": "02",
                "name": "暴露垃圾",
                "pinyin": "blljs",
                "keywords": ["垃圾"],
                "default_limits": {
                    "normal": {"value": 4, "unit": "working_hours"},
                    "urgent": {"value": 2, "unit": "working_hours"},
                },
            },
            {
                "code": "03",
                "name": "积存垃圾渣土",
                "pinyin": "jcljzt",
                "default_limits": {
                    "normal": {"value": 2, "unit": "working_days"},
                    "urgent": {"value": 4, "unit": "working_hours"},
                },
            },
        ],
    },
    {
        "kind": "component",
        "code": "04",
        "name": "园林绿化",
        "children": [{"code": "06", "name": "公园护栏", "pinyin": "gyhl"}],
    },
]


@pytest.fixture
def categories(db: None) -> None:
    categories_load(CATEGORY_DATA)


def jpeg(color: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def photo_file(name: str = "photo.jpg", data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data if data is not None else jpeg(), "image/jpeg")


@pytest.fixture
def client_for() -> Callable[[User], Client]:
    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
