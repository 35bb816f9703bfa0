"""`civicloop import_regions FILE.geojson [--dry-run] [--update] [--all-or-nothing]`.

The file format is described in docs/regions.md and in `civicloop.regions.importer`.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _
from tqdm import tqdm

from civicloop.regions.errors import Code, RegionError
from civicloop.regions.importer import ImportReport, OnExisting, Outcome, iter_import, read_features


class Command(BaseCommand):
    help = _(
        "从 GeoJSON FeatureCollection 导入行政区划与网格；"
        "要素属性为 code、name、level、kind、parent_code（市级不填）"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help=_("GeoJSON 文件路径"))
        parser.add_argument("--dry-run", action="store_true", help=_("只校验，不写入数据库"))
        parser.add_argument(
            "--update", action="store_true", help=_("代码已存在时更新名称、类型、边界和中心点")
        )
        parser.add_argument(
            "--all-or-nothing",
            action="store_true",
            help=_("任何一个要素失败就全部不写入（默认只跳过失败的要素）"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        features = self._read(options["file"])
        on_existing = OnExisting.UPDATE if options["update"] else OnExisting.ERROR
        is_dry_run, all_or_nothing = options["dry_run"], options["all_or_nothing"]
        # One outer transaction only when it may have to be rolled back; otherwise every
        # feature commits on its own.
        outer = transaction.atomic() if is_dry_run or all_or_nothing else contextlib.nullcontext()
        with outer:
            report = self._run(features, on_existing)
            rolled_back = is_dry_run or (all_or_nothing and not report.is_ok)
            if rolled_back:
                transaction.set_rollback(True)
        self._print_report(report, is_dry_run=is_dry_run, rolled_back=rolled_back)
        if not report.is_ok:
            raise CommandError(
                _("%(count)d 个要素导入失败") % {"count": len(report.failures)}, returncode=1
            )

    def _read(self, path: Path) -> list[Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError as exc:
            raise CommandError(_("找不到文件：%(path)s") % {"path": path}) from exc
        except OSError as exc:
            raise CommandError(
                _("无法读取 %(path)s：%(error)s") % {"path": path, "error": exc.strerror}
            ) from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(
                _("%(path)s 不是 UTF-8 编码的有效 JSON：%(error)s") % {"path": path, "error": exc}
            ) from exc
        try:
            return read_features(data)
        except RegionError as exc:
            raise CommandError(exc.message) from exc

    def _run(self, features: list[Any], on_existing: OnExisting) -> ImportReport:
        report = ImportReport()
        results = iter_import(features, on_existing=on_existing)
        # disable=None: no bar when stderr is not a terminal (cron, CI, tests).
        for result in tqdm(
            results, total=len(features), desc=_("导入"), file=sys.stderr, disable=None
        ):
            report.add(result)
        return report

    def _print_report(self, report: ImportReport, *, is_dry_run: bool, rolled_back: bool) -> None:
        for failure in report.failures:
            self.stderr.write(str(failure))
        if any(failure.error == Code.CODE_DUPLICATE for failure in report.failures):
            self.stderr.write(_("提示：要更新数据库中已有的区域，请加 --update"))
        self.stdout.write(
            _(
                "共 %(total)d 个要素：新建 %(created)d，更新 %(updated)d，"
                "未变 %(unchanged)d，失败 %(failed)d"
            )
            % {
                "total": len(report.results),
                "created": report.count(Outcome.CREATED),
                "updated": report.count(Outcome.UPDATED),
                "unchanged": report.count(Outcome.UNCHANGED),
                "failed": report.count(Outcome.FAILED),
            }
        )
        if is_dry_run:
            self.stdout.write(_("试运行：没有写入数据库"))
        elif rolled_back:
            self.stdout.write(_("有要素失败，已按 --all-or-nothing 全部回滚，没有写入数据库"))
