"""Import regions from GeoJSON features, one transaction per feature.

Each feature carries `code`, `name`, `level`, `kind` and (below the city) `parent_code` in its
properties, and optionally `centre_lat`/`centre_lon`; its geometry is the boundary (Polygon,
MultiPolygon or null). Features may come in any order: they are processed level by level,
file order within a level. A bad feature is reported and skipped; the others go on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from civicloop.regions.errors import Code, RegionError
from civicloop.regions.geometry import is_number, normalise_boundary, parse_boundary
from civicloop.regions.models import LEVEL_DEPTH, Level, Region
from civicloop.regions.services import region_create, region_update, region_update_boundary

REQUIRED_PROPERTIES = ("code", "name", "level", "kind")


class OnExisting(StrEnum):
    ERROR = "error"
    UPDATE = "update"
    SKIP = "skip"


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class FeatureResult:
    index: int  # 1-based position in the file
    code: str
    outcome: Outcome
    message: str = ""
    error: str = ""  # a `Code` when the feature failed

    def __str__(self) -> str:
        return _("第 %(index)d 个要素（代码 %(code)s）：%(message)s") % {
            "index": self.index,
            "code": self.code or "—",
            "message": self.message or self.outcome.value,
        }


@dataclass
class ImportReport:
    results: list[FeatureResult] = field(default_factory=list)

    def add(self, result: FeatureResult) -> None:
        self.results.append(result)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def failures(self) -> list[FeatureResult]:
        return sorted(
            (r for r in self.results if r.outcome == Outcome.FAILED), key=lambda r: r.index
        )

    @property
    def is_ok(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class _Properties:
    code: str
    name: str
    level: Level
    kind: str
    parent_code: str | None
    boundary: dict[str, Any] | None
    centre: tuple[float, float] | None


def read_features(data: Any) -> list[Any]:
    """The features of a FeatureCollection, or RegionError if it is not one."""
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
    ):
        raise RegionError(
            Code.IMPORT_FILE_INVALID,
            _("文件必须是 GeoJSON FeatureCollection：type 为 FeatureCollection，含 features 数组"),
        )
    return list(data["features"])


def import_features(
    features: Sequence[Any], *, on_existing: OnExisting = OnExisting.ERROR
) -> ImportReport:
    report = ImportReport()
    for result in iter_import(features, on_existing=on_existing):
        report.add(result)
    return report


def iter_import(
    features: Sequence[Any], *, on_existing: OnExisting = OnExisting.ERROR
) -> Iterator[FeatureResult]:
    """Import feature by feature, parents first, yielding each result as it is done."""
    first_index: dict[str, int] = {}
    failed: set[str] = set()
    for position in sorted(range(len(features)), key=lambda i: _depth(features[i])):
        result = _import_one(position + 1, features[position], first_index, failed, on_existing)
        if result.outcome == Outcome.FAILED:
            failed.add(result.code)
        yield result


def _import_one(
    index: int,
    feature: Any,
    first_index: dict[str, int],
    failed: set[str],
    on_existing: OnExisting,
) -> FeatureResult:
    code = _code_of(feature)
    try:
        properties = _parse(feature)
        _check_unique_in_file(properties.code, index, first_index)
        parent = _parent(properties, failed)
        with transaction.atomic():
            outcome = _write(properties, parent, on_existing)
    except RegionError as exc:
        return FeatureResult(index, code, Outcome.FAILED, exc.message, exc.code)
    return FeatureResult(index, code, outcome)


def _parse(feature: Any) -> _Properties:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise _feature_error(_("不是 GeoJSON Feature 对象"))
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        raise _feature_error(_("缺少 properties 对象"))
    missing = [name for name in REQUIRED_PROPERTIES if _blank(properties.get(name))]
    if missing:
        raise _feature_error(_("缺少属性：%(names)s") % {"names": "、".join(missing)})
    if not _code_of(feature):
        raise _feature_error(_("属性 code 必须是数字字符串"))
    level = _level(properties["level"])
    parent_code = properties.get("parent_code")
    if level != Level.CITY and _blank(parent_code):
        raise _feature_error(_("缺少属性：parent_code"))
    return _Properties(
        code=_code_of(feature),
        name=str(properties["name"]),
        level=level,
        kind=str(properties["kind"]),
        parent_code=None if _blank(parent_code) else str(parent_code).strip(),
        boundary=feature.get("geometry"),
        centre=_centre(properties),
    )


def _level(value: Any) -> Level:
    if value not in Level.values:
        raise _feature_error(
            _("未知层级“%(level)s”，应为 %(choices)s 之一")
            % {"level": value, "choices": "、".join(Level.values)}
        )
    return Level(value)


def _centre(properties: dict[str, Any]) -> tuple[float, float] | None:
    lat, lon = properties.get("centre_lat"), properties.get("centre_lon")
    if lat is None and lon is None:
        return None
    if not (is_number(lat) and is_number(lon)):
        raise RegionError(Code.CENTRE_INVALID, _("centre_lat 与 centre_lon 须同时给出，且都是数字"))
    return (float(lat), float(lon))


def _check_unique_in_file(code: str, index: int, first_index: dict[str, int]) -> None:
    first = first_index.setdefault(code, index)
    if first != index:
        raise RegionError(
            Code.FEATURE_DUPLICATE,
            _("代码与第 %(first)d 个要素重复") % {"first": first},
        )


def _parent(properties: _Properties, failed: set[str]) -> Region | None:
    code = properties.parent_code
    if code is None:
        return None
    parent = Region.objects.filter(code=code).first()
    if parent is not None:
        return parent
    if code in failed:
        message = _("上级 %(code)s 未能导入，本要素随之跳过") % {"code": code}
    else:
        message = _("未知上级代码 %(code)s：数据库和文件中都没有") % {"code": code}
    raise RegionError(Code.PARENT_UNKNOWN, message)


def _write(properties: _Properties, parent: Region | None, on_existing: OnExisting) -> Outcome:
    existing = Region.objects.filter(code=properties.code).select_related("parent").first()
    if existing is None:
        region_create(
            code=properties.code,
            name=properties.name,
            level=properties.level,
            kind=properties.kind,
            parent=parent,
            boundary=properties.boundary,
            centre=properties.centre,
        )
        return Outcome.CREATED
    if on_existing == OnExisting.SKIP:
        return Outcome.UNCHANGED
    if on_existing == OnExisting.ERROR:
        raise RegionError(
            Code.CODE_DUPLICATE,
            _("区域代码 %(code)s 已存在") % {"code": properties.code},
        )
    return _update(existing, properties, parent)


def _update(region: Region, properties: _Properties, parent: Region | None) -> Outcome:
    if region.level != properties.level or region.parent_id != (parent.pk if parent else None):
        raise RegionError(
            Code.LEVEL_MISMATCH,
            _("已有区域的层级或上级与文件不同；导入不能移动区域"),
        )
    changed = False
    if (region.name, region.kind) != (properties.name.strip(), properties.kind):
        region_update(region=region, name=properties.name, kind=properties.kind)
        changed = True
    if _boundary_changed(region, properties):
        region_update_boundary(
            region=region, boundary=properties.boundary, centre=properties.centre
        )
        changed = True
    return Outcome.UPDATED if changed else Outcome.UNCHANGED


def _boundary_changed(region: Region, properties: _Properties) -> bool:
    boundary = properties.boundary
    if boundary is not None:
        parse_boundary(boundary)  # a clear error before comparing
        boundary = normalise_boundary(boundary)
    centre = properties.centre
    centre_changed = centre is not None and tuple(centre) != (region.centre_lat, region.centre_lon)
    return boundary != region.boundary or centre_changed


def _depth(feature: Any) -> int:
    level = _get_property(feature, "level")
    return LEVEL_DEPTH[Level(level)] if level in Level.values else len(LEVEL_DEPTH)


def _code_of(feature: Any) -> str:
    code = _get_property(feature, "code")
    if isinstance(code, int) and not isinstance(code, bool):
        return str(code)
    return code.strip() if isinstance(code, str) else ""


def _get_property(feature: Any, name: str) -> Any:
    if isinstance(feature, dict) and isinstance(feature.get("properties"), dict):
        return feature["properties"].get(name)
    return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _feature_error(message: str) -> RegionError:
    return RegionError(Code.FEATURE_INVALID, message)
