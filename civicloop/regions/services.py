"""Write-side functions for regions. Each validates fully before it writes anything."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from civicloop.regions import lookup
from civicloop.regions.errors import Code, RegionError
from civicloop.regions.geometry import (
    Boundary,
    LatLon,
    centre_of,
    check_lat_lon,
    normalise_boundary,
    parse_boundary,
)
from civicloop.regions.models import LEVEL_DEPTH, Kind, Level, Region

NAME_MAX_LENGTH = 100

KINDS_BY_LEVEL = {
    Level.CITY: frozenset({Kind.CITY}),
    Level.TOWN: frozenset({Kind.STREET, Kind.TOWN}),
    Level.VILLAGE: frozenset({Kind.COMMUNITY, Kind.VILLAGE}),
    Level.GRID: frozenset({Kind.GRID}),
    Level.UNIT: frozenset({Kind.BUILDING, Kind.LANE, Kind.SHOP_ROW}),
}

CODE_LENGTH = {Level.CITY: 12, Level.TOWN: 12, Level.VILLAGE: 12, Level.GRID: 15, Level.UNIT: 18}

LEVEL_AT_DEPTH = {depth: level for level, depth in LEVEL_DEPTH.items()}

# Where each level's own 3-digit sequence starts; the digits before it are the parent's.
SEQUENCE_START = {Level.TOWN: 6, Level.VILLAGE: 9, Level.GRID: 12, Level.UNIT: 15}


@transaction.atomic
def region_create(
    *,
    code: str,
    name: str,
    level: str,
    kind: str,
    parent: Region | None,
    boundary: dict[str, Any] | None = None,
    centre: tuple[float, float] | None = None,
) -> Region:
    """Create a region under `parent`. `centre` is (lat, lon); without it, a point inside the
    boundary is used."""
    shape = region_check(
        code=code,
        name=name,
        level=level,
        kind=kind,
        parent=parent,
        boundary=boundary,
        centre=centre,
    )
    point = _centre(centre, shape)
    region = Region(
        code=code,
        name=name.strip(),
        level=level,
        kind=kind,
        parent=parent,
        path=f"{parent.path if parent else '/'}{code}/",
        boundary=normalise_boundary(boundary) if boundary is not None else None,
        centre_lat=point.lat if point else None,
        centre_lon=point.lon if point else None,
    )
    try:
        with transaction.atomic():
            region.save()
    except IntegrityError as exc:
        raise _duplicate(code) from exc
    _changed(region)
    return region


def region_check(
    *,
    code: str,
    name: str,
    level: str,
    kind: str,
    parent: Region | None,
    boundary: dict[str, Any] | None = None,
    centre: tuple[float, float] | None = None,
) -> Boundary | None:
    """Every check of `region_create`, without writing: for forms and imports."""
    checked_level = _check_level(level)
    _check_name(name)
    _check_kind(checked_level, kind)
    _check_parent(checked_level, parent)
    _check_code(code, checked_level, parent)
    shape = parse_boundary(boundary) if boundary is not None else None
    _centre(centre, shape)
    if Region.objects.filter(code=code).exists():
        raise _duplicate(code)
    return shape


def region_check_change(
    *,
    region: Region,
    name: str,
    kind: str,
    boundary: dict[str, Any] | None,
    centre: tuple[float, float] | None = None,
) -> None:
    """The checks of `region_update` and `region_update_boundary` together, without writing."""
    _check_name(name)
    _check_kind(Level(region.level), kind)
    shape = parse_boundary(boundary) if boundary is not None else None
    _centre(centre, shape)


@transaction.atomic
def region_update(*, region: Region, name: str, kind: str) -> Region:
    """Rename a region or change its kind (a village that became a community, 村改居)."""
    _check_name(name)
    _check_kind(Level(region.level), kind)
    region.name = name.strip()
    region.kind = kind
    region.save(update_fields=["name", "kind", "updated_at"])
    return region


@transaction.atomic
def region_update_boundary(
    *,
    region: Region,
    boundary: dict[str, Any] | None,
    centre: tuple[float, float] | None = None,
) -> Region:
    """Replace the boundary. The centre is recomputed from it unless given; clearing the boundary
    keeps the old centre."""
    shape = parse_boundary(boundary) if boundary is not None else None
    point = _centre(centre, shape)
    region.boundary = normalise_boundary(boundary) if boundary is not None else None
    if point is not None:
        region.centre_lat, region.centre_lon = point
    region.save(update_fields=["boundary", "centre_lat", "centre_lon", "updated_at"])
    _changed(region)
    return region


def _changed(region: Region) -> None:
    # Other processes notice through the index fingerprint; this process at once, even
    # inside a transaction that has not committed yet.
    if region.level == Level.GRID:
        lookup.invalidate_grid_index()


def _check_level(level: str) -> Level:
    if level not in Level.values:
        choices = "、".join(Level.values)
        raise RegionError(
            Code.LEVEL_INVALID,
            _("未知层级“%(level)s”，应为 %(choices)s 之一") % {"level": level, "choices": choices},
        )
    return Level(level)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise RegionError(Code.NAME_INVALID, _("名称不能为空"))
    if len(name.strip()) > NAME_MAX_LENGTH:
        raise RegionError(
            Code.NAME_INVALID, _("名称不能超过%(max)d个字") % {"max": NAME_MAX_LENGTH}
        )


def _check_kind(level: Level, kind: str) -> None:
    allowed = KINDS_BY_LEVEL[level]
    if kind not in allowed:
        names = "、".join(sorted(f"{k.value}（{k.label}）" for k in allowed))
        raise RegionError(
            Code.KIND_INVALID,
            _("类型“%(kind)s”不适用于%(level)s，应为 %(names)s")
            % {"kind": kind, "level": level.label, "names": names},
        )


def _check_parent(level: Level, parent: Region | None) -> None:
    if level == Level.CITY:
        if parent is not None:
            raise RegionError(Code.PARENT_NOT_ALLOWED, _("市级区域不能有上级"))
        return
    if parent is None:
        raise RegionError(Code.PARENT_REQUIRED, _("缺少上级区域"))
    expected = LEVEL_AT_DEPTH.get(parent.depth + 1)
    if expected is None:
        raise RegionError(
            Code.LEVEL_MISMATCH,
            _("%(level)s“%(parent)s”下不能再设下级区域")
            % {"level": Level(parent.level).label, "parent": parent.name},
        )
    if level != expected:
        raise RegionError(
            Code.LEVEL_MISMATCH,
            _("上级“%(parent)s”是%(parent_level)s，下级应为%(expected)s，不能是%(level)s")
            % {
                "parent": parent.name,
                "parent_level": Level(parent.level).label,
                "expected": expected.label,
                "level": level.label,
            },
        )


def _check_code(code: str, level: Level, parent: Region | None) -> None:
    length = CODE_LENGTH[level]
    if not isinstance(code, str) or len(code) != length or not _is_ascii_digits(code):
        raise RegionError(
            Code.CODE_INVALID,
            _("%(level)s代码应为%(length)d位数字：%(code)s")
            % {"level": level.label, "length": length, "code": code},
        )
    if level == Level.CITY:
        _check_city_code(code)
    else:
        assert parent is not None  # _check_parent ran first
        _check_sequence(code, level, parent)


def _check_city_code(code: str) -> None:
    if code[6:] != "000000" or code[:6] == "000000":
        raise RegionError(
            Code.CODE_INVALID,
            _("市级代码应为6位县级行政区划代码加000000：%(code)s") % {"code": code},
        )


def _check_sequence(code: str, level: Level, parent: Region) -> None:
    start = SEQUENCE_START[level]
    prefix = parent.code[:start]
    if not code.startswith(prefix):
        raise RegionError(
            Code.CODE_PREFIX,
            _("代码应以上级“%(parent)s”的代码前缀 %(prefix)s 开头：%(code)s")
            % {"parent": parent.name, "prefix": prefix, "code": code},
        )
    if code[start : start + 3] == "000":
        raise RegionError(
            Code.CODE_INVALID,
            _("代码第%(first)d–%(last)d位是本级序号，不能为000：%(code)s")
            % {"first": start + 1, "last": start + 3, "code": code},
        )
    if code[start + 3 :].strip("0"):
        raise RegionError(
            Code.CODE_INVALID,
            _("镇街代码的最后3位应为000：%(code)s") % {"code": code},
        )


def _centre(centre: tuple[float, float] | None, shape: Boundary | None) -> LatLon | None:
    if centre is None:
        return centre_of(shape) if shape is not None else None
    if len(centre) != 2 or not check_lat_lon(*centre):
        raise RegionError(
            Code.CENTRE_INVALID,
            _("中心点应为（纬度, 经度），纬度在 −90～90、经度在 −180～180 之间：%(centre)s")
            % {"centre": centre},
        )
    return LatLon(float(centre[0]), float(centre[1]))


def _duplicate(code: str) -> RegionError:
    return RegionError(Code.CODE_DUPLICATE, _("区域代码 %(code)s 已存在") % {"code": code})


def _is_ascii_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()
