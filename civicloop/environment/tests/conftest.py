"""Fixtures of the environment tests: an enterprise in 孝子祠社区 with a water and an air
outlet on line, a micro station, the city's enforcement department and its inspector, a
department with a data-sharing grant, and helpers that feed readings through the writer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

import pytest

from civicloop.accounts.models import Organisation, OrgKind, Role, User
from civicloop.accounts.services import membership_grant, user_create
from civicloop.cases.categories import categories_load_seed
from civicloop.conftest import IN_GRID, People, World
from civicloop.environment import codes, services
from civicloop.environment.models import (
    DischargeMode,
    DischargePattern,
    Enterprise,
    ManagementCategory,
    MonitoringMode,
    Outlet,
    OutletClass,
    Permit,
    Standard,
)
from civicloop.environment.standards import load_library
from civicloop.lib.clock import SHANGHAI
from civicloop.monitoring.models import MonitoringPoint, PointKind, ReadingKind
from civicloop.monitoring.writer import ReadingRow, store_readings

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=SHANGHAI)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def uscc(base17: str) -> str:
    return base17 + codes.uscc_check_char(base17)


USCC = uscc("91330782MA2E3C7K1")


@dataclass
class Env:
    hb: Organisation
    water_dept: Organisation
    inspector: User
    sharer: User
    enterprise: Enterprise
    permit: Permit
    water: Outlet
    air: Outlet
    station: MonitoringPoint

    @property
    def water_point(self) -> MonitoringPoint:
        assert self.water.monitoring_point is not None
        return self.water.monitoring_point

    @property
    def air_point(self) -> MonitoringPoint:
        assert self.air.monitoring_point is not None
        return self.air.monitoring_point


T = TypeVar("T")


def must(value: T | None) -> T:
    """The value, which the test expects to be there."""
    assert value is not None
    return value


def point(mn: str, kind: PointKind, name: str, *, st: str = "32") -> MonitoringPoint:
    return MonitoringPoint.objects.create(
        mn=mn,
        password="123456",
        name=name,
        system_code=st,
        kind=kind,
        latitude=IN_GRID[0],
        longitude=IN_GRID[1],
        last_seen_at=NOW,
    )


def _enterprise() -> Enterprise:
    return services.enterprise_create(
        data=services.EnterpriseData(
            uscc=USCC,
            name="义乌市清溪印染有限公司",
            legal_representative="何建华",
            industry_code="1713",
            industry_name="棉印染精加工",
            address="义乌市稠城街道孝子祠路8号",
            latitude=IN_GRID[0],
            longitude=IN_GRID[1],
            management_category=ManagementCategory.KEY,
        )
    )


def _outlets(enterprise: Enterprise) -> tuple[Outlet, Outlet]:
    water = services.outlet_create(
        enterprise=enterprise,
        data=services.OutletData(
            code="DW001",
            name="废水总排口",
            outlet_class=OutletClass.MAIN,
            discharge_pattern=DischargePattern.CONTINUOUS_STABLE,
            discharge_mode=DischargeMode.INDIRECT,
            destination="进入城镇污水处理厂",
            receiving_body="义乌市水处理有限责任公司",
            latitude=IN_GRID[0] + 0.001,
            longitude=IN_GRID[1] + 0.001,
            built_on=date(2015, 3, 1),
        ),
        point=point("33078200QX00000000WW0001", PointKind.WASTEWATER_OUTLET, "清溪印染 废水总排口"),
    )
    air = services.outlet_create(
        enterprise=enterprise,
        data=services.OutletData(
            code="DA001",
            name="燃气锅炉废气排放口",
            outlet_class=OutletClass.GENERAL,
            discharge_pattern=DischargePattern.CONTINUOUS_STABLE,
            destination="大气",
            latitude=IN_GRID[0] + 0.002,
            longitude=IN_GRID[1] + 0.001,
            stack_height_m=15,
            inner_diameter_m=0.6,
            built_on=date(2018, 6, 1),
        ),
        point=point(
            "33078200QX00000000GA0001", PointKind.FLUE_GAS_OUTLET, "清溪印染 锅炉排口", st="31"
        ),
    )
    return water, air


def _permit(enterprise: Enterprise, water: Outlet, air: Outlet) -> Permit:
    permit = services.permit_issue(
        enterprise=enterprise,
        number=USCC + "001P",
        issued_on=date(2023, 6, 1),
        valid_from=date(2023, 6, 1),
        valid_to=date(2028, 5, 31),
        authority="金华市生态环境局",
        production_summary="印染生产线2条，年产印染布3000万米；燃气锅炉1台（4 t/h）",
    )
    limit = services.LimitData
    services.permit_limit_set(
        permit=permit,
        outlet=water,
        data=limit(
            "w01018", "mg/L", daily_limit=200, standard_number="GB 8978", standard_grade="三级"
        ),
    )
    services.permit_limit_set(
        permit=permit,
        outlet=water,
        data=limit(
            "w01001",
            "无量纲",
            daily_limit=9,
            low_limit=6,
            standard_number="GB 8978",
            standard_grade="三级",
        ),
    )
    # No permitted value: the standard (GB 13271—2014 表2, gas boiler, built 2018) decides.
    services.permit_limit_set(
        permit=permit,
        outlet=air,
        data=limit("a21002", "mg/m³", standard_number="GB 13271", standard_grade="燃气锅炉"),
    )
    services.monitoring_requirement_add(
        permit=permit,
        outlet=water,
        pollutant_code="w01018",
        mode=MonitoringMode.AUTOMATIC,
        is_networked=True,
        frequency="自动监测",
        method="HJ 377",
    )
    return permit


@pytest.fixture
def library(db: None) -> None:
    """The standards library, which migration 0002 loads; transactional tests (threads, the
    browser) empty every table afterwards, so reload it when it is gone."""
    if not Standard.objects.filter(is_builtin=True).exists():
        load_library()


@pytest.fixture
def env(world: World, people: People, library: None) -> Env:
    categories_load_seed()
    hb = Organisation.objects.create(
        code="yw-hb", name="金华市生态环境局义乌分局", kind=OrgKind.DEPARTMENT, region=world.city
    )
    water_dept = Organisation.objects.create(
        code="yw-sw", name="义乌市水务局", kind=OrgKind.DEPARTMENT, region=world.city
    )
    inspector = user_create(mobile="13800000100", name="环境执法 方敏", password="demo-pass-2026")
    membership_grant(user=inspector, role=Role.UNIT_HANDLER, region=world.city, organisation=hb)
    sharer = user_create(mobile="13800000101", name="水务局 数据员", password="demo-pass-2026")
    membership_grant(
        user=sharer, role=Role.UNIT_HANDLER, region=world.city, organisation=water_dept
    )
    enterprise = _enterprise()
    water, air = _outlets(enterprise)
    station = point(
        "33078200AQ0000000000MS01", PointKind.AMBIENT_MICRO_STATION, "孝子祠 微型站", st="22"
    )
    return Env(
        hb,
        water_dept,
        inspector,
        sharer,
        enterprise,
        _permit(enterprise, water, air),
        water,
        air,
        station,
    )


def feed(
    outlet_or_point: Outlet | MonitoringPoint,
    code: str,
    values: Iterable[float | None],
    *,
    start: datetime,
    kind: int = ReadingKind.HOUR,
    flag: str = "N",
    zs: Iterable[float | None] | None = None,
) -> int:
    """Store values from `start`, one per hour (or per day for kind DAY)."""
    point_ = (
        outlet_or_point.monitoring_point if isinstance(outlet_or_point, Outlet) else outlet_or_point
    )
    assert point_ is not None
    step = DAY if kind == ReadingKind.DAY else HOUR
    corrected = list(zs) if zs is not None else None
    rows = [
        ReadingRow(
            point_id=point_.pk,
            kind=kind,
            code=code,
            data_time=start + i * step,
            avg=value,
            zs_avg=corrected[i] if corrected else None,
            flag=flag,
            received_at=start + i * step + timedelta(minutes=5),
        )
        for i, value in enumerate(values)
        if value is not None
    ]
    return store_readings(rows)


def last_hours(n: int, now: datetime = NOW) -> datetime:
    """The start of the hour n hours before the current (open) hour."""
    current = now.replace(minute=0, second=0, microsecond=0)
    return current - n * HOUR


def feed_normal_hours(env: Env, now: datetime = NOW) -> None:
    """36 hours of unremarkable hourly data on both outlets, up to the last closed hour."""
    start = last_hours(36, now)
    feed(env.water, "w01018", [80 + (i % 7) for i in range(36)], start=start)
    feed(env.water, "w01001", [7.0 + (i % 5) / 10 for i in range(36)], start=start)
    feed(env.water, "w00000", [12 + (i % 4) for i in range(36)], start=start)
    feed(env.air, "a21002", [60 + (i % 9) for i in range(36)], start=start)
    feed(env.air, "a19001", [3.5] * 36, start=start)


def keep_alive(env: Env, now: datetime) -> None:
    """Normal data up to `now` and both devices heard from at `now`."""
    feed_normal_hours(env, now)
    ids = [env.water.monitoring_point_id, env.air.monitoring_point_id]
    MonitoringPoint.objects.filter(pk__in=ids).update(last_seen_at=now)
