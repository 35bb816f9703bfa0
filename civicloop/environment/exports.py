"""CSV and XLSX exports of the enterprise month report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook

from civicloop.environment.models import AlertKind
from civicloop.environment.reports import MonthReport

OUTLET_HEADER = [
    _("日期"),
    _("排放口编号"),
    _("排放口名称"),
    _("污染物"),
    _("编码"),
    _("单位"),
    _("日均值"),
    _("最大小时值"),
    _("最小小时值"),
    _("有效小时数"),
    _("限值"),
    _("判定依据"),
    _("是否超标"),
]
STATION_HEADER = [
    _("日期"),
    _("微型站"),
    "MN",
    _("距离（km）"),
    "AQI",
    _("级别"),
    _("首要污染物"),
    "PM2.5",
    "PM10",
]
ALERT_HEADER = [
    _("开始"),
    _("排放口"),
    _("类型"),
    _("污染物"),
    _("最不利值"),
    _("限值"),
    _("案件编号"),
    _("状态"),
]


def _texts(header: object) -> list[str]:
    """The header in the active language (the lists hold lazy translations)."""
    assert isinstance(header, list)
    return [str(cell) for cell in header]


def _number(value: float | None, digits: int = 3) -> float | str:
    return "" if value is None else round(value, digits)


def outlet_rows(report: MonthReport) -> Iterator[list[object]]:
    for outlet_month in report.outlets:
        outlet = outlet_month.outlet
        for pollutant in outlet_month.pollutants:
            line = pollutant.line
            for day in pollutant.days:
                yield [
                    day.day.isoformat(),
                    outlet.code,
                    outlet.name,
                    line.name,
                    line.code,
                    line.unit,
                    _number(day.mean),
                    _number(day.high),
                    _number(day.low),
                    day.hours,
                    line.limit_text,
                    line.basis,
                    str(_("是")) if day.exceeded else "",
                ]


def station_rows(report: MonthReport) -> Iterator[list[object]]:
    for station_month in report.stations:
        station = station_month.station
        for day, row in station_month.days:
            aqi_value = row.aqi if row else None
            concentrations = row.concentrations if row else {}
            yield [
                day.isoformat(),
                station.name,
                station.mn,
                round(station_month.distance_km, 2),
                "" if aqi_value is None else aqi_value,
                row.level if row and row.level else "",
                "、".join(row.primary) if row else "",
                concentrations.get("pm25") or "",
                concentrations.get("pm10") or "",
            ]


def alert_rows(report: MonthReport) -> Iterator[list[object]]:
    for outlet_month in report.outlets:
        for alert in outlet_month.alerts:
            yield [
                alert.first_start.isoformat(),
                outlet_month.outlet.code,
                str(AlertKind(alert.kind).label),
                alert.pollutant_name,
                _number(alert.worst_value),
                alert.limit_text,
                alert.case.number if alert.case else "",
                alert.get_status_display(),
            ]


def report_csv(report: MonthReport, part: str = "outlets") -> bytes:
    """UTF-8 with a BOM, so that Excel opens the Chinese text correctly."""
    header, rows = {
        "stations": (STATION_HEADER, station_rows(report)),
        "alerts": (ALERT_HEADER, alert_rows(report)),
    }.get(part, (OUTLET_HEADER, outlet_rows(report)))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_texts(header))
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def report_xlsx(report: MonthReport) -> bytes:
    workbook = Workbook()
    sheets = [
        (_("排放口日数据"), OUTLET_HEADER, outlet_rows(report)),
        (_("预警与案件"), ALERT_HEADER, alert_rows(report)),
        (_("周边微型站"), STATION_HEADER, station_rows(report)),
    ]
    first = workbook.active
    assert first is not None
    workbook.remove(first)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(str(title))
        sheet.append(_texts(header))
        for row in rows:
            sheet.append(row)
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
