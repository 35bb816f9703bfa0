from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    CITY = "city", _("市")
    TOWN = "town", _("镇街")
    VILLAGE = "village", _("村社")
    GRID = "grid", _("网格")
    UNIT = "unit", _("单元")


# The depth of each level in the tree; a region's parent is always exactly one level up.
LEVEL_DEPTH = {Level.CITY: 0, Level.TOWN: 1, Level.VILLAGE: 2, Level.GRID: 3, Level.UNIT: 4}


class Kind(models.TextChoices):
    CITY = "city", _("县级市")
    STREET = "street", _("街道")
    TOWN = "town", _("镇")
    COMMUNITY = "community", _("社区")
    VILLAGE = "village", _("行政村")
    GRID = "grid", _("网格")
    BUILDING = "building", _("楼栋")
    LANE = "lane", _("巷弄")
    SHOP_ROW = "shop_row", _("商铺街")


class RegionQuerySet(models.QuerySet["Region"]):
    def within(self, region: Region) -> RegionQuerySet:
        """The region and everything below it."""
        return self.filter(path__startswith=region.path)

    def at_level(self, level: str) -> RegionQuerySet:
        return self.filter(level=level)

    def ancestors_of(self, region: Region) -> RegionQuerySet:
        """The regions above `region`, city first: one query on the unique code index."""
        return self.filter(code__in=region.ancestor_codes()[:-1]).order_by("path")


class Region(models.Model):
    """A node of city → town/street → village/community → grid → unit.

    City, towns and villages carry the 12-digit statistical division code (统计用区划代码);
    grids append a 3-digit sequence to their village's code, units a 3-digit sequence to their
    grid's. `path` is the chain of codes from the city down ("/330782000000/330782001000/…/"),
    so a whole subtree is one indexed prefix query on SQLite and PostgreSQL alike.
    """

    code = models.CharField(_("代码"), max_length=24, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("上级"),
    )
    path = models.CharField(_("路径"), max_length=200, unique=True, editable=False)
    # A GeoJSON geometry (Polygon or MultiPolygon) in WGS-84, lon/lat order as GeoJSON says.
    boundary = models.JSONField(_("边界"), null=True, blank=True)
    centre_lat = models.FloatField(_("中心纬度"), null=True, blank=True)
    centre_lon = models.FloatField(_("中心经度"), null=True, blank=True)
    # Part of the grid index fingerprint (lookup.py): services always save(), so it moves.
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = RegionQuerySet.as_manager()

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["path"]
        indexes = [
            models.Index(fields=["level", "path"]),
            models.Index(fields=["level", "updated_at"], name="regions_level_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return LEVEL_DEPTH[Level(self.level)]

    def ancestor_codes(self) -> list[str]:
        return [code for code in self.path.split("/") if code]

    def contains(self, other: Region) -> bool:
        return other.path.startswith(self.path)

    def as_feature(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "geometry": self.boundary,
            "properties": {"code": self.code, "name": self.name, "level": self.level},
        }
