"""A KPI report as a table: CSV (UTF-8 with BOM, so Excel opens the Chinese right) and XLSX."""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from civicloop.cases.kpis import Report


def table(report: Report) -> list[list[object]]:
    header: list[object] = [_("对象")]
    for indicator in report.indicators:
        name = str(indicator.name)
        header += [f"{name}·{_('分子')}", f"{name}·{_('分母')}", name]
    rows: list[list[object]] = [header]
    for row in report.rows:
        line: list[object] = [row.label]
        for indicator in report.indicators:
            value = row.values.get(indicator.code)
            if value is None:
                line += ["", "", ""]
            else:
                line += [value.numerator, value.denominator, value.rate]
        rows.append(line)
    return rows


def to_csv(report: Report) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("考核期"), report.period.label])
    writer.writerows(["" if cell is None else cell for cell in line] for line in table(report))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = report.period.label
    for values in table(report):
        sheet.append(values)
    for header in sheet[1]:
        header.font = Font(bold=True)
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, float):
                cell.number_format = "0.00%"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
