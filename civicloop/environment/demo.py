"""Demo: about 30 fictional Yiwu enterprises (printing and dyeing, socks and textiles, small
commodity manufacturing, a sewage plant, boilers) in real towns, their permits, outlets and
monitoring points, 10 micro air stations, three weeks of hourly data with a few exceedances
and anomalies, and the sweeps that turn them into cases of the loop.

    from civicloop.environment.demo import load_demo_environment
    load_demo_environment()          # idempotent; needs regions, categories and organisations

Names, codes and numbers of the enterprises are fictional (the USCCs are generated with valid
check characters, MNs are made up). Limits come from the standards library where a library
standard applies (GB 8978 三级, GB 18918 一级A, GB 13271 燃气锅炉); dyeing permits state their
own values (printing and dyeing follows GB 4287, which the library does not carry).
"""

from __future__ import annotations

import io
import logging
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from PIL import Image

from civicloop.accounts.models import Membership, Organisation, Role, User
from civicloop.cases import services as case_services
from civicloop.cases.models import State
from civicloop.environment import services
from civicloop.environment.codes import uscc_check_char
from civicloop.environment.models import (
    Alert,
    AlertKind,
    DischargeMode,
    DischargePattern,
    Enterprise,
    ManagementCategory,
    MonitoringMode,
    Outlet,
    OutletClass,
    Permit,
)
from civicloop.environment.selectors import DEFAULT_ENFORCEMENT_ORG
from civicloop.environment.stations import station_aqi_refresh
from civicloop.environment.sweep import sweep
from civicloop.ingest.demo import DEMO_MN_PREFIX, DEMO_PASSWORD
from civicloop.lib import clock
from civicloop.lib.errors import DomainError
from civicloop.monitoring.models import MonitoringPoint, PointKind, PointStatus, ReadingKind
from civicloop.monitoring.rollups import day_start, hour_start
from civicloop.monitoring.services import rollup_point_days
from civicloop.monitoring.writer import ReadingRow, store_readings
from civicloop.regions.data.yiwu import TOWNS
from civicloop.regions.lookup import locate_all
from civicloop.regions.models import Level, Region

logger = logging.getLogger(__name__)

DAYS = 21
SURNAMES = "陈王李张刘杨黄吴周徐"
GIVEN_NAMES = ("建华", "国强", "志明", "晓东", "海燕", "丽萍", "卫东", "秀英", "俊杰", "美玲")
AUTHORITY = "金华市生态环境局"
HOUR = timedelta(hours=1)
TOWN_SEATS = {town.name: (town.lat, town.lon) for town in TOWNS}


@dataclass(frozen=True)
class Spec:
    name: str
    town: str
    kind: str  # dyeing, socks, textile, commodity, sewage, boiler
    industry: tuple[str, str]
    category: ManagementCategory
    online: bool


K, S, R = ManagementCategory.KEY, ManagementCategory.SIMPLIFIED, ManagementCategory.REGISTRATION
DYEING = ("1713", "棉印染精加工")
KNIT_DYEING = ("1762", "针织或钩针编织物印染精加工")
KNITWEAR = ("1763", "针织或钩针编织品制造")
GARMENTS = ("1810", "机织服装制造")
JEWELLERY = ("2438", "珠宝首饰及有关物品制造")
CRAFTS = ("2439", "其他工艺美术及礼仪用品制造")
PLASTICS = ("2929", "塑料零件及其他塑料制品制造")
PACKAGING = ("2231", "纸和纸板容器制造")
SEWAGE = ("4620", "污水处理及其再生利用")
HEATING = ("4430", "热力生产和供应")

SPECS = (
    Spec("义乌市清溪印染有限公司", "苏溪镇", "dyeing", DYEING, K, True),
    Spec("义乌市锦澜印染有限公司", "苏溪镇", "dyeing", DYEING, K, True),
    Spec("义乌市华彩针织印染有限公司", "义亭镇", "dyeing", KNIT_DYEING, K, True),
    Spec("义乌市云裳印染有限公司", "佛堂镇", "dyeing", DYEING, K, True),
    Spec("义乌市蓝溪染整有限公司", "义亭镇", "dyeing", KNIT_DYEING, K, True),
    Spec("义乌市丝路针织袜业有限公司", "稠江街道", "socks", KNITWEAR, S, True),
    Spec("义乌市步云袜业有限公司", "北苑街道", "socks", KNITWEAR, S, True),
    Spec("义乌市暖足针织有限公司", "城西街道", "socks", KNITWEAR, R, False),
    Spec("义乌市柔步袜业有限公司", "稠江街道", "socks", KNITWEAR, R, False),
    Spec("义乌市恒丰袜业有限公司", "后宅街道", "socks", KNITWEAR, S, True),
    Spec("义乌市织梦无缝针织有限公司", "北苑街道", "socks", KNITWEAR, R, False),
    Spec("义乌市大陈锦程服饰有限公司", "大陈镇", "textile", GARMENTS, S, True),
    Spec("义乌市衬彩制衣有限公司", "大陈镇", "textile", GARMENTS, R, False),
    Spec("义乌市晨光服饰有限公司", "大陈镇", "textile", GARMENTS, R, False),
    Spec("义乌市星辰饰品有限公司", "廿三里街道", "commodity", JEWELLERY, S, True),
    Spec("义乌市羽艺工艺品有限公司", "廿三里街道", "commodity", CRAFTS, R, False),
    Spec("义乌市彩虹工艺品有限公司", "江东街道", "commodity", CRAFTS, S, True),
    Spec("义乌市乐童塑料制品有限公司", "后宅街道", "commodity", PLASTICS, S, True),
    Spec("义乌市博远塑胶制品有限公司", "稠江街道", "commodity", PLASTICS, R, False),
    Spec("义乌市福星包装制品有限公司", "福田街道", "commodity", PACKAGING, S, True),
    Spec("义乌市宏达纸品包装有限公司", "上溪镇", "commodity", PACKAGING, R, False),
    Spec("义乌市金亮首饰有限公司", "江东街道", "commodity", JEWELLERY, R, False),
    Spec("义乌市巧手礼品有限公司", "赤岸镇", "commodity", CRAFTS, R, False),
    Spec("义乌市稠江水处理有限公司", "稠江街道", "sewage", SEWAGE, K, True),
    Spec("义乌市北苑热力有限公司", "北苑街道", "boiler", HEATING, S, True),
    Spec("义乌市福田集中供热有限公司", "福田街道", "boiler", HEATING, S, True),
    Spec("义乌市佛堂蒸汽供应有限公司", "佛堂镇", "boiler", HEATING, S, True),
    Spec("义乌市苏溪热能有限公司", "苏溪镇", "boiler", HEATING, K, True),
    Spec("义乌市江东针织染整有限公司", "江东街道", "dyeing", KNIT_DYEING, K, True),
    Spec("义乌市上溪纺织有限公司", "上溪镇", "textile", GARMENTS, S, True),
)

# The planted events of the story (index in SPECS → what happens).
COD_EXCEEDANCE = 0  # two days of COD daily means above the permit: a persistent exceedance
NOX_EXCEEDANCE = 24  # three hours of NOx above GB 13271 表2: urgent
CONSTANT_VALUES = 5  # 14 hours of identical COD values: 恒值
OFFLINE = 16  # the data logger stopped two hours ago
NH3_EXCEEDANCE = 23  # the sewage plant: one day of NH3-N above 一级A
CLOSED_STORY = 2  # an exceedance two weeks ago whose case was handled and closed
SWEEP_DAYS_BACK = (14, 2, 1)  # the mornings after those days

# Micro stations: (name, town, offset in degrees from the town seat).
STATIONS = (
    ("稠城街道 大气微型站1号", "稠城街道", (0.004, 0.003)),
    ("稠江街道 大气微型站1号", "稠江街道", (0.003, -0.004)),
    ("北苑街道 大气微型站1号", "北苑街道", (-0.003, 0.004)),
    ("苏溪镇 大气微型站1号", "苏溪镇", (0.004, -0.003)),
    ("苏溪镇 大气微型站2号", "苏溪镇", (-0.006, 0.006)),
    ("义亭镇 大气微型站1号", "义亭镇", (0.003, 0.004)),
    ("佛堂镇 大气微型站1号", "佛堂镇", (-0.004, 0.003)),
    ("大陈镇 大气微型站1号", "大陈镇", (0.003, 0.003)),
    ("廿三里街道 大气微型站1号", "廿三里街道", (-0.003, -0.003)),
    ("江东街道 大气微型站1号", "江东街道", (0.004, 0.004)),
)
STATION_LEVELS = {  # code: (base, daily amplitude)
    "a21026": (8.0, 3.0),
    "a21004": (28.0, 12.0),
    "a21005": (0.6, 0.25),
    "a05024": (75.0, 55.0),
    "a34002": (62.0, 20.0),
    "a34004": (38.0, 14.0),
}


@dataclass
class DemoEnvironmentSummary:
    enterprises: int = 0
    outlets: int = 0
    points: int = 0
    readings: int = 0
    alerts_created: int = 0
    cases_closed: int = 0


# ---------------------------------------------------------------- identifiers and places


def demo_uscc(index: int) -> str:
    base = f"91330782MA2D{index:05d}"
    return base + uscc_check_char(base)


def _place(town: str, index: int, spread: float = 0.012) -> tuple[float, float]:
    """A point near the town seat (deterministic), moved back to the seat if outside."""
    lat0, lon0 = TOWN_SEATS[town]
    angle = (index * 137.508) % 360
    radius = spread * (0.35 + 0.65 * ((index * 7919) % 100) / 100)
    lat = lat0 + radius * math.sin(math.radians(angle))
    lon = lon0 + radius * math.cos(math.radians(angle))
    placement = locate_all(lat, lon)
    if placement is None or placement.town.name != town:
        return lat0, lon0
    return round(lat, 6), round(lon, 6)


def _mn(index: int, medium: str, n: int) -> str:
    return f"{DEMO_MN_PREFIX}{index:04d}{medium}{n:04d}"


# ---------------------------------------------------------------- enterprises


def _enterprise(index: int, spec: Spec) -> Enterprise:
    lat, lon = _place(spec.town, index)
    found = Enterprise.objects.filter(uscc=demo_uscc(index)).first()
    if found is not None:
        return found
    return services.enterprise_create(
        data=services.EnterpriseData(
            uscc=demo_uscc(index),
            name=spec.name,
            legal_representative=SURNAMES[index % 10] + GIVEN_NAMES[index * 3 % 10],
            industry_code=spec.industry[0],
            industry_name=spec.industry[1],
            address=f"浙江省义乌市{spec.town}工业区{10 + index * 3}号",
            latitude=lat,
            longitude=lon,
            management_category=spec.category,
        )
    )


def _point(
    index: int, outlet_name: str, medium: str, n: int, lat: float, lon: float
) -> MonitoringPoint:
    kind = PointKind.WASTEWATER_OUTLET if medium == "WW" else PointKind.FLUE_GAS_OUTLET
    point, _created = MonitoringPoint.objects.get_or_create(
        mn=_mn(index, medium, n),
        defaults={
            "password": DEMO_PASSWORD,
            "name": outlet_name,
            "system_code": "32" if medium == "WW" else "31",
            "kind": kind,
            "latitude": lat,
            "longitude": lon,
        },
    )
    return point


LimitRow = tuple[str, str, float | None, str, str, str]
WATER_LIMITS: dict[str, list[LimitRow]] = {
    # kind: [(code, unit, permit daily value or None, standard, grade, table)]
    "dyeing": [
        ("w01018", "mg/L", 200.0, "", "GB 4287—2012 间接排放（许可证载明）", ""),
        ("w21003", "mg/L", 20.0, "", "GB 4287—2012 间接排放（许可证载明）", ""),
        ("w21011", "mg/L", 1.5, "", "GB 4287—2012 间接排放（许可证载明）", ""),
        ("w01001", "无量纲", 9.0, "", "GB 4287—2012 间接排放（许可证载明）", ""),
    ],
    "sewage": [
        ("w01018", "mg/L", None, "GB 18918", "一级A", "表1"),
        ("w21003", "mg/L", None, "GB 18918", "一级A", "表1"),
        ("w21011", "mg/L", None, "GB 18918", "一级A", "表1"),
        ("w21001", "mg/L", None, "GB 18918", "一级A", "表1"),
        ("w01001", "无量纲", None, "GB 18918", "一级A", "表1"),
    ],
    "other": [
        ("w01018", "mg/L", None, "GB 8978", "三级", ""),
        ("w01001", "无量纲", None, "GB 8978", "三级", ""),
    ],
}
AIR_LIMITS = [
    ("a34013", "mg/m³"),
    ("a21026", "mg/m³"),
    ("a21002", "mg/m³"),
]


def _water_outlet(index: int, spec: Spec, enterprise: Enterprise) -> Outlet:
    direct = spec.kind == "sewage"
    lat, lon = enterprise.latitude + 0.0006, enterprise.longitude + 0.0004
    return services.outlet_create(
        enterprise=enterprise,
        data=services.OutletData(
            code="DW001",
            name="污水处理厂出水口" if direct else "废水总排口",
            outlet_class=OutletClass.MAIN if spec.category == K else OutletClass.GENERAL,
            discharge_pattern=DischargePattern.CONTINUOUS_STABLE
            if direct
            else DischargePattern.INTERMITTENT_PERIODIC,
            discharge_mode=DischargeMode.DIRECT if direct else DischargeMode.INDIRECT,
            intermittent_periods="" if direct else "8:00—20:00",
            destination="直接进入江河、湖、库等水环境" if direct else "进入城镇污水处理厂",
            receiving_body="义乌江" if direct else "义乌市稠江水处理有限公司",
            latitude=lat,
            longitude=lon,
            built_on=date(2008 + index % 12, 1 + index % 12, 1),
        ),
        point=_point(index, f"{spec.name} 废水排放口", "WW", 1, lat, lon) if spec.online else None,
    )


def _air_outlet(index: int, spec: Spec, enterprise: Enterprise) -> Outlet:
    lat, lon = enterprise.latitude - 0.0005, enterprise.longitude + 0.0007
    return services.outlet_create(
        enterprise=enterprise,
        data=services.OutletData(
            code="DA001",
            name="燃气锅炉废气排放口",
            outlet_class=OutletClass.MAIN if spec.kind == "boiler" else OutletClass.GENERAL,
            discharge_pattern=DischargePattern.CONTINUOUS_STABLE,
            destination="大气",
            latitude=lat,
            longitude=lon,
            stack_height_m=15.0 + (index % 4) * 5,
            inner_diameter_m=0.5 + (index % 3) * 0.2,
            built_on=date(2015 + index % 8, 6, 1),
        ),
        point=_point(index, f"{spec.name} 锅炉废气排放口", "GA", 1, lat, lon)
        if spec.online and spec.kind in ("boiler", "dyeing", "sewage")
        else None,
    )


def _permit_and_limits(index: int, spec: Spec, enterprise: Enterprise) -> None:
    issued = date(2022 + index % 3, 1 + index % 12, 10)
    permit = services.permit_issue(
        enterprise=enterprise,
        number=f"{enterprise.uscc}001P",
        issued_on=issued,
        valid_from=issued,
        valid_to=issued.replace(year=issued.year + 5) - timedelta(days=1),
        authority=AUTHORITY,
        production_summary=_production(spec),
    )
    outlets = {o.code: o for o in enterprise.outlets.all()}
    if "DW001" in outlets:
        _water_limits(permit, outlets["DW001"], spec)
    if "DA001" in outlets:
        _air_limits(permit, outlets["DA001"])


def _production(spec: Spec) -> str:
    return {
        "dyeing": (
            "印染生产线2条（前处理、染色、定型），年产印染布2500万米；"
            "废水处理设施1套（调节+水解酸化+接触氧化）"
        ),
        "sewage": "污水处理规模10万吨/日，工艺：A²/O + 深度处理 + 紫外消毒",
        "boiler": "燃气蒸汽锅炉2台（各10 t/h），低氮燃烧",
    }.get(spec.kind, "生产车间1幢，主要设备：电脑横机/注塑机等若干台，年产值约5000万元")


def _water_limits(permit: Permit, outlet: Outlet, spec: Spec) -> None:
    rows = WATER_LIMITS.get(spec.kind, WATER_LIMITS["other"])
    for code, unit, value, standard, grade, table in rows:
        ph = code == "w01001"
        services.permit_limit_set(
            permit=permit,
            outlet=outlet,
            data=services.LimitData(
                pollutant_code=code,
                unit=unit,
                daily_limit=value,
                low_limit=6.0 if ph and value is not None else None,
                standard_number=standard,
                standard_grade=grade,
                standard_table=table,
                is_main=not ph,
            ),
        )
        if outlet.monitoring_point_id and not ph:
            services.monitoring_requirement_add(
                permit=permit,
                outlet=outlet,
                pollutant_code=code,
                mode=MonitoringMode.AUTOMATIC,
                is_networked=True,
                frequency="自动监测",
            )


def _air_limits(permit: Permit, outlet: Outlet) -> None:
    for code, unit in AIR_LIMITS:
        services.permit_limit_set(
            permit=permit,
            outlet=outlet,
            data=services.LimitData(
                pollutant_code=code,
                unit=unit,
                standard_number="GB 13271",
                standard_grade="燃气锅炉",
                is_main=code == "a21002",
            ),
        )
    services.monitoring_requirement_add(
        permit=permit,
        outlet=outlet,
        pollutant_code="a21002",
        mode=MonitoringMode.AUTOMATIC if outlet.monitoring_point_id else MonitoringMode.MANUAL,
        is_networked=bool(outlet.monitoring_point_id),
        frequency="自动监测" if outlet.monitoring_point_id else "1次/月",
        note="自动监测设施失效时，按手工监测频次要求执行",
    )


@transaction.atomic
def _load_enterprise(index: int, spec: Spec) -> Enterprise:
    enterprise = _enterprise(index, spec)
    if enterprise.outlets.exists():
        return enterprise
    if spec.kind != "boiler":
        _water_outlet(index, spec, enterprise)
    if spec.kind in ("dyeing", "boiler", "sewage", "textile"):
        _air_outlet(index, spec, enterprise)
    _permit_and_limits(index, spec, enterprise)
    return enterprise


# ---------------------------------------------------------------- data


def _wave(seed: str, at: datetime, base: float, amplitude: float) -> float:
    """A daily cycle plus deterministic noise: the same (seed, hour) always gives the same value."""
    local = at.astimezone(clock.SHANGHAI)
    phase = (zlib.crc32(seed.encode()) % 24) / 24
    daily = math.sin(2 * math.pi * (local.hour / 24 + phase))
    noise = zlib.crc32(f"{seed}|{int(at.timestamp())}".encode()) / 0xFFFFFFFF - 0.5
    return max(0.0, base + amplitude * daily + amplitude * 0.8 * noise)


OUTLET_LEVELS = {  # (kind, code): (base, amplitude)
    ("dyeing", "w01018"): (120.0, 30.0),
    ("dyeing", "w21003"): (9.0, 3.0),
    ("dyeing", "w21011"): (0.7, 0.2),
    ("sewage", "w01018"): (28.0, 6.0),
    ("sewage", "w21003"): (1.8, 0.8),
    ("sewage", "w21011"): (0.25, 0.08),
    ("sewage", "w21001"): (9.0, 2.0),
    ("other", "w01018"): (180.0, 60.0),
    ("any", "w01001"): (7.4, 0.4),
    ("any", "w00000"): (12.0, 6.0),
    ("air", "a34013"): (4.0, 1.5),
    ("air", "a21026"): (6.0, 2.0),
    ("air", "a21002"): (95.0, 25.0),
    ("air", "a19001"): (3.5, 0.3),
}


def _level(kind: str, code: str) -> tuple[float, float]:
    for key in ((kind, code), ("other", code), ("any", code), ("air", code)):
        if key in OUTLET_LEVELS:
            return OUTLET_LEVELS[key]
    raise KeyError(code)


def _hours(end: datetime, days: int) -> Iterator[datetime]:
    start = end - timedelta(days=days)
    at = start
    while at < end:
        yield at
        at += HOUR


def _outlet_rows(index: int, spec: Spec, outlet: Outlet, end: datetime) -> list[ReadingRow]:
    point = outlet.monitoring_point
    assert point is not None
    codes = [limit.pollutant.code for limit in outlet.limits.select_related("pollutant")]
    codes += ["w00000"] if outlet.medium == "water" else ["a19001"]
    rows = []
    for at in _hours(end, DAYS):
        if index == OFFLINE and at >= end - 2 * HOUR:
            break
        for code in codes:
            base, amplitude = _level(spec.kind, code)
            value = _story(index, code, at, end, _wave(f"{point.mn}{code}", at, base, amplitude))
            rows.append(
                ReadingRow(
                    point_id=point.pk,
                    kind=ReadingKind.HOUR,
                    code=code,
                    data_time=at,
                    avg=round(value, 3),
                    flag="N",
                    received_at=at + timedelta(minutes=62),
                )
            )
    return rows


def _story(index: int, code: str, at: datetime, end: datetime, value: float) -> float:
    """The planted events, by enterprise index, relative to the end of the data."""
    today = day_start(end)
    if (
        index == COD_EXCEEDANCE
        and code == "w01018"
        and today - 3 * timedelta(days=1) <= at < today - timedelta(days=1)
    ):
        return value + 110.0  # two daily means around 230 against the permitted 200
    if (
        index == CLOSED_STORY
        and code == "w01018"
        and today - timedelta(days=15) <= at < today - timedelta(days=14)
    ):
        return value + 120.0
    if (
        index == NH3_EXCEEDANCE
        and code == "w21003"
        and today - timedelta(days=2) <= at < today - timedelta(days=1)
    ):
        return value + 5.5  # daily mean around 7.3 against 一级A 5
    if index == NOX_EXCEEDANCE and code == "a21002" and end - 6 * HOUR <= at < end - 3 * HOUR:
        return 240.0 + (at.hour % 3) * 5  # three hours above 200
    if index == CONSTANT_VALUES and code == "w01018" and end - 15 * HOUR <= at < end - HOUR:
        return 88.0  # a stuck analyser: 14 identical hourly values
    return value


def _station_rows(point: MonitoringPoint, end: datetime) -> list[ReadingRow]:
    rows = []
    for at in _hours(end, DAYS):
        for code, (base, amplitude) in STATION_LEVELS.items():
            seed = f"{point.mn}{code}"
            value = _wave(seed, at, base, amplitude) * (
                1 + 0.35 * math.sin(at.timestamp() / 86400 / 3)
            )
            digits = 1 if code == "a21005" else 0
            rows.append(
                ReadingRow(
                    point_id=point.pk,
                    kind=ReadingKind.HOUR,
                    code=code,
                    data_time=at,
                    avg=round(value, digits),
                    flag="N",
                    received_at=at + timedelta(minutes=62),
                )
            )
    return rows


def _stations() -> list[MonitoringPoint]:
    points = []
    for number, (name, town, (dlat, dlon)) in enumerate(STATIONS, 1):
        lat0, lon0 = TOWN_SEATS[town]
        point, _created = MonitoringPoint.objects.get_or_create(
            mn=f"{DEMO_MN_PREFIX}AQ{number:010d}",
            defaults={
                "password": DEMO_PASSWORD,
                "name": name,
                "system_code": "22",
                "kind": PointKind.AMBIENT_MICRO_STATION,
                "latitude": round(lat0 + dlat, 6),
                "longitude": round(lon0 + dlon, 6),
            },
        )
        points.append(point)
    return points


def _feed(points_rows: list[list[ReadingRow]], points: list[MonitoringPoint], end: datetime) -> int:
    written = 0
    for rows in points_rows:
        for at in range(0, len(rows), 5000):
            written += store_readings(rows[at : at + 5000])
    for point in points:
        rollup_point_days(point=point, start=end - timedelta(days=DAYS), end=end)
    return written


def _mark_seen(
    points: list[MonitoringPoint], offline: MonitoringPoint | None, end: datetime
) -> None:
    for point in points:
        silent = point == offline
        MonitoringPoint.objects.filter(pk=point.pk).update(
            last_seen_at=end - 2 * HOUR if silent else end + timedelta(minutes=5),
            last_data_time=end - HOUR,
            # as the silence check would have left it; the live simulator skips it too
            status=PointStatus.OFFLINE if silent else PointStatus.ACTIVE,
        )


# ---------------------------------------------------------------- teams, sweeps, a closed case


def _teams() -> None:
    city = Region.objects.filter(level=Level.CITY).first()
    hb = Organisation.objects.filter(code=DEFAULT_ENFORCEMENT_ORG).first()
    if city is not None and hb is not None:
        services.enforcement_team_set(region=city, organisation=hb)
    water = Organisation.objects.filter(code="yw-sw").first()
    if city is not None and water is not None:
        services.data_share_grant(organisation=water, region=city, purpose="水环境联合监管（演示）")


def _sweeps(end: datetime) -> int:
    """Sweeps at 10:00 on the mornings after the planted events, then one now: the cases
    carry the times at which a sweep worker would have opened them."""
    created = 0
    for days_back in SWEEP_DAYS_BACK:
        at = day_start(end) - timedelta(days=days_back) + timedelta(hours=10)
        created += sweep(now=at, stations=False).alerts_created
    return created + sweep(now=end, stations=False).alerts_created


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (60, 140, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


def _close_story_case(enterprise: Enterprise, end: datetime) -> int:
    """The oldest exceedance was handled: claimed, fixed, checked and closed."""
    alert = (
        Alert.objects.filter(
            outlet__enterprise=enterprise, kind=AlertKind.EXCEEDANCE, case__isnull=False
        )
        .order_by("created_at")
        .first()
    )
    if alert is None or alert.case is None or alert.case.state != State.DISPATCHED:
        return 0
    case = alert.case
    people = _handlers(enterprise.town)
    if people is None:
        return 0
    handler, verifier, lead = people
    at = case.reported_at + timedelta(hours=3)
    photo = case_services.PhotoUpload(name="整改后.jpg", data=_jpeg())
    try:
        with clock.frozen(at):
            case_services.case_claim(case=case, by=handler, note="已签收，安排现场检查")
        with clock.frozen(at + timedelta(hours=20)):
            case_services.case_submit(
                case=case,
                by=handler,
                photos=[photo],
                note="现场检查：调节池满负荷运行导致超标，已责令整改并立案调查",
            )
        with clock.frozen(at + timedelta(hours=26)):
            case_services.case_check(case=case, by=verifier, passed=True, note="复测达标")
            case_services.case_close(case=case, by=lead, note="整改到位")
    except DomainError as exc:
        logger.warning("demo case %s could not be closed: %s", case.number, exc.message)
        return 0
    sweep(now=max(at + timedelta(hours=27), end), stations=False)
    return 1


def _handlers(town: Region) -> tuple[User, User, User] | None:
    def member(role: Role, **where: object) -> User | None:
        found = (
            Membership.objects.active().filter(role=role, **where).select_related("user").first()
        )
        return found.user if found else None

    handler = member(Role.UNIT_HANDLER, organisation__code=DEFAULT_ENFORCEMENT_ORG)
    verifier = member(Role.VERIFIER, region=town)
    lead = member(Role.SHIFT_LEAD, region=town)
    if handler is None or verifier is None or lead is None:
        return None
    return handler, verifier, lead


# ---------------------------------------------------------------- entry point


def load_demo_environment(*, end: datetime | None = None) -> DemoEnvironmentSummary:
    if not Region.objects.filter(level=Level.GRID).exists():
        raise RuntimeError("load the regions (and categories, organisations) first")
    end = hour_start(end or clock.now())
    summary = DemoEnvironmentSummary()
    _teams()
    enterprises = [_load_enterprise(i, spec) for i, spec in enumerate(SPECS)]
    summary.enterprises = len(enterprises)
    monitored = Outlet.objects.filter(
        enterprise__in=enterprises, monitoring_point__isnull=False
    ).select_related("monitoring_point")
    by_enterprise = {e.pk: (i, SPECS[i]) for i, e in enumerate(enterprises)}
    rows = [_outlet_rows(*by_enterprise[o.enterprise_id], o, end) for o in monitored]
    stations = _stations()
    rows += [_station_rows(s, end) for s in stations]
    points = [o.monitoring_point for o in monitored if o.monitoring_point] + stations
    summary.outlets = Outlet.objects.filter(enterprise__in=enterprises).count()
    summary.points = len(points)
    summary.readings = _feed(rows, points, end)
    offline = next(
        (o.monitoring_point for o in monitored if by_enterprise[o.enterprise_id][0] == OFFLINE),
        None,
    )
    _mark_seen(points, offline, end)
    station_aqi_refresh(now=end, days_back=DAYS)
    summary.alerts_created = _sweeps(end)
    summary.cases_closed = _close_story_case(enterprises[CLOSED_STORY], end)
    return summary
