"""Yiwu (义乌市) demo regions: the city, its 14 towns/streets, some villages and units.

Sources and confidence:
- Town/street codes follow the 统计用区划代码 table as far as public pages confirm it: 稠城 001,
  江东 002 (东洲社区 is 330782002006), 稠江 003, 北苑 004, 后宅 005, 城西 006, 廿三里 007,
  福田 008, 佛堂 100, 赤岸 101, 苏溪 105, 大陈 106 (大陈一村 is 330782106209). 义亭 103 and
  上溪 104 fill the remaining gap (102 was the former 廿三里镇); check them against the current
  NBS table before production use.
- Town seats are approximate WGS-84 positions of the town/street offices.
- Community and village names are real names of the right town where known (稠城 keeps 孝子祠、
  绣湖、词林、银苑、宾王、江滨 since the 2014 split that created 福田; 下骆宅 went to 福田).
  金麟社区, 王店村 and 益公山村 are placed where they are plausible but unverified.
- Village-level codes are illustrative except 东洲社区, 金山村 (330782100270) and 大陈一村:
  communities use sequences 001–199 and villages 200 and up, as the NBS scheme does.
Boundaries are not data: `demo.py` tiles them from these seats (see docs/regions.md).
"""

from __future__ import annotations

from typing import NamedTuple

from civicloop.regions.models import Kind


class VillageSeed(NamedTuple):
    code: str
    name: str
    kind: Kind


class TownSeed(NamedTuple):
    code: str
    name: str
    kind: Kind
    lat: float
    lon: float
    villages: tuple[VillageSeed, ...]


class UnitSeed(NamedTuple):
    code: str  # grid code + 3-digit sequence
    name: str
    kind: Kind


CITY_CODE = "330782000000"
CITY_NAME = "义乌市"
CITY_CENTRE = (29.3069, 120.0751)

# A convex outline of the city, (lon, lat), spanning 119.825–120.280 E and 29.040–29.560 N like
# the real one (about 44 km by 58 km). Being convex it covers about 1,430 km², where the real,
# indented boundary encloses 1,105 km²; convex keeps every generated cell a single Polygon.
CITY_OUTLINE = (
    (120.150, 29.560),
    (120.205, 29.515),
    (120.255, 29.445),
    (120.280, 29.380),
    (120.245, 29.305),
    (120.085, 29.085),
    (120.035, 29.040),
    (119.985, 29.085),
    (119.900, 29.185),
    (119.825, 29.295),
    (119.845, 29.350),
    (119.960, 29.440),
    (120.070, 29.515),
)

C, V = Kind.COMMUNITY, Kind.VILLAGE


def _villages(town: str, *items: tuple[str, str, Kind]) -> tuple[VillageSeed, ...]:
    return tuple(VillageSeed(town[:9] + seq, name, kind) for seq, name, kind in items)


TOWNS = (
    TownSeed(
        "330782001000", "稠城街道", Kind.STREET, 29.3060, 120.0750,
        _villages(
            "330782001000",
            ("001", "孝子祠社区", C), ("002", "绣湖社区", C), ("003", "词林社区", C),
            ("004", "银苑社区", C), ("005", "宾王社区", C), ("006", "江滨社区", C),
        ),
    ),
    TownSeed(
        "330782002000", "江东街道", Kind.STREET, 29.2950, 120.1050,
        _villages(
            "330782002000",
            ("006", "东洲社区", C), ("003", "金福社区", C),
            ("201", "青口村", V), ("202", "王店村", V),
        ),
    ),
    TownSeed(
        "330782003000", "稠江街道", Kind.STREET, 29.2700, 120.0280,
        _villages(
            "330782003000",
            ("007", "高新社区", C), ("001", "凤凰社区", C), ("003", "锦都社区", C),
            ("201", "龙回村", V), ("202", "官塘村", V),
        ),
    ),
    TownSeed(
        "330782004000", "北苑街道", Kind.STREET, 29.3320, 120.0520,
        _villages(
            "330782004000",
            ("001", "丹溪社区", C), ("002", "金麟社区", C), ("003", "春晗社区", C),
            ("004", "柳青社区", C),
        ),
    ),
    TownSeed(
        "330782005000", "后宅街道", Kind.STREET, 29.3920, 120.0500,
        _villages(
            "330782005000",
            ("001", "后宅社区", C), ("201", "李祖村", V), ("202", "塘李村", V),
            ("203", "遗安村", V),
        ),
    ),
    TownSeed(
        "330782006000", "城西街道", Kind.STREET, 29.3100, 119.9800,
        _villages(
            "330782006000",
            ("201", "何斯路村", V), ("202", "桥头村", V), ("203", "七一村", V),
            ("204", "益公山村", V),
        ),
    ),
    TownSeed(
        "330782007000", "廿三里街道", Kind.STREET, 29.3500, 120.2000,
        _villages(
            "330782007000",
            ("001", "开元社区", C), ("201", "华溪村", V), ("202", "楼下村", V),
        ),
    ),
    TownSeed(
        "330782008000", "福田街道", Kind.STREET, 29.3460, 120.1180,
        _villages(
            "330782008000",
            ("001", "福田社区", C), ("002", "诚信社区", C), ("003", "长春社区", C),
            ("201", "下骆宅村", V), ("202", "殿前村", V),
        ),
    ),
    TownSeed(
        "330782100000", "佛堂镇", Kind.TOWN, 29.1930, 120.0330,
        _villages(
            "330782100000",
            ("001", "佛堂社区", C), ("201", "倍磊村", V), ("270", "金山村", V),
            ("202", "塔下洲村", V),
        ),
    ),
    TownSeed(
        "330782101000", "赤岸镇", Kind.TOWN, 29.1180, 120.0250,
        _villages(
            "330782101000",
            ("001", "赤岸社区", C), ("201", "乔亭村", V), ("202", "朱店村", V),
            ("203", "雅治街村", V),
        ),
    ),
    TownSeed(
        "330782103000", "义亭镇", Kind.TOWN, 29.2250, 119.9600,
        _villages(
            "330782103000",
            ("001", "义亭社区", C), ("201", "王莲塘村", V), ("202", "畈田朱村", V),
            ("203", "陇头朱村", V), ("204", "缸窑村", V),
        ),
    ),
    TownSeed(
        "330782104000", "上溪镇", Kind.TOWN, 29.3050, 119.8980,
        _villages(
            "330782104000",
            ("001", "上溪社区", C), ("201", "黄山村", V), ("202", "吴店村", V),
            ("203", "溪华村", V),
        ),
    ),
    TownSeed(
        "330782105000", "苏溪镇", Kind.TOWN, 29.4150, 120.1750,
        _villages(
            "330782105000",
            ("001", "胡宅社区", C), ("201", "范家村", V), ("202", "蒋宅村", V),
            ("203", "新乐村", V),
        ),
    ),
    TownSeed(
        "330782106000", "大陈镇", Kind.TOWN, 29.4750, 120.1700,
        _villages(
            "330782106000",
            ("209", "大陈一村", V), ("201", "楂林一村", V), ("202", "红峰村", V),
            ("203", "马畈村", V),
        ),
    ),
)  # fmt: skip

# A few buildings, lanes and shop rows under grids of the old town centre and 何斯路.
UNITS = (
    UnitSeed("330782001001001001", "县前街商铺街", Kind.SHOP_ROW),
    UnitSeed("330782001001001002", "孝子祠巷", Kind.LANE),
    UnitSeed("330782001002001001", "绣湖小区1幢", Kind.BUILDING),
    UnitSeed("330782001002001002", "绣湖小区2幢", Kind.BUILDING),
    UnitSeed("330782001003002001", "工人北路商铺街", Kind.SHOP_ROW),
    UnitSeed("330782006201001001", "何斯路老街", Kind.LANE),
)


def grid_count(village: VillageSeed) -> int:
    """2–4 grids per village, fixed by its code so that every run draws the same map."""
    return 2 + int(village.code[-3:]) % 3
