"""`civicloop yiwu_regions [--export [FILE]]`: load the Yiwu demo map, or write it as GeoJSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from civicloop.regions.demo import GEOJSON_PATH, describe, export_geojson, load_yiwu_regions


class Command(BaseCommand):
    help = _("载入义乌演示区划（可重复运行），或用 --export 写出 GeoJSON 文件")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--export",
            nargs="?",
            const=GEOJSON_PATH,
            type=Path,
            metavar="FILE",
            help=_("写出 GeoJSON（默认 %(path)s），不写数据库") % {"path": GEOJSON_PATH.name},
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["export"] is not None:
            path = export_geojson(options["export"])
            self.stdout.write(_("已写出 %(path)s") % {"path": path})
            return
        self.stdout.write(describe(load_yiwu_regions()))
