"""The printable label sheet of an enterprise: one label per outlet, two per A4 page.

Each label carries the auxiliary text of the GB 15562.1 outlet sign (环办[2003]95号: unit name,
outlet code and name, discharge mode, main pollutants; environment-standards.md §6 J1–J2), the
standard applied and the outlet's QR code (a signed URL, see qr.py). It is meant to be mounted on
or beside the standard sign; the sign's graphic symbol itself is not drawn here. Prompt signs
are green with white text (J2), so the title bar is green.

Chinese text needs a CJK font: Noto Sans CJK SC (Debian `fonts-noto-cjk`, OpenType/CFF — fpdf2
embeds it) or WenQuanYi Zen Hei (`fonts-wqy-zenhei`).
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from django.utils.translation import gettext as _
from fpdf import FPDF

from civicloop.environment.limits import LimitBook
from civicloop.environment.models import Enterprise, Medium
from civicloop.environment.profiles import OutletProfile, outlet_profile
from civicloop.environment.qr import outlet_url, qr_png
from civicloop.lib.errors import DomainError

# (path, index in the font collection): Noto Sans CJK's .ttc holds JP, KR, SC, TC, HK.
FONT_CANDIDATES = (
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf"), 0),
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
)
GREEN = (0, 128, 64)
LABEL_W, LABEL_H = 180.0, 125.0
MARGIN_X, MARGIN_Y = 15.0, 16.0
TITLES = {Medium.WATER: "废水排放口", Medium.AIR: "废气排放口"}
HOTLINE = "环保举报热线 12369"


def cjk_font() -> tuple[Path, int]:
    for path, index in FONT_CANDIDATES:
        if path.exists():
            return path, index
    raise DomainError(
        "font_missing",
        _("服务器缺少中文字体（请安装 fonts-noto-cjk 或 fonts-wqy-zenhei）"),
        status=500,
    )


def _pdf() -> FPDF:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    path, index = cjk_font()
    pdf.add_font("cjk", fname=str(path), collection_font_number=index)
    pdf.set_auto_page_break(False)
    pdf.set_title("排放口标志牌二维码标签")
    return pdf


def label_sheet(enterprise: Enterprise, *, on: date) -> bytes:
    outlets = list(enterprise.outlets.filter(is_active=True).order_by("code"))
    pdf = _pdf()
    book = LimitBook()
    for index, outlet in enumerate(outlets):
        if index % 2 == 0:
            pdf.add_page()
        top = MARGIN_Y + (index % 2) * (LABEL_H + 14)
        _label(pdf, outlet_profile(outlet, on=on, book=book), MARGIN_X, top)
    if not outlets:
        pdf.add_page()
        pdf.set_font("cjk", size=14)
        pdf.text(MARGIN_X, 30, f"{enterprise.name}：没有登记排放口")
    return bytes(pdf.output())


def _label(pdf: FPDF, profile: OutletProfile, x: float, y: float) -> None:
    outlet = profile.outlet
    pdf.set_draw_color(*GREEN)
    pdf.set_line_width(1.2)
    pdf.rect(x, y, LABEL_W, LABEL_H)
    pdf.set_fill_color(*GREEN)
    pdf.rect(x, y, LABEL_W, 18, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("cjk", size=20)
    pdf.set_xy(x, y + 2)
    pdf.cell(LABEL_W, 14, f"{TITLES[Medium(outlet.medium)]}  {outlet.code}", align="C")
    pdf.set_text_color(0, 0, 0)
    _fields(pdf, profile, x + 6, y + 24, width=LABEL_W - 66)
    pdf.image(io.BytesIO(qr_png(outlet_url(outlet))), x=x + LABEL_W - 56, y=y + 26, w=50, h=50)
    pdf.set_font("cjk", size=9)
    pdf.set_xy(x + LABEL_W - 58, y + 78)
    pdf.cell(54, 6, "扫码查看排放信息", align="C")
    pdf.set_xy(x + 6, y + LABEL_H - 10)
    pdf.cell(LABEL_W - 12, 6, HOTLINE, align="R")


def _fields(pdf: FPDF, profile: OutletProfile, x: float, y: float, *, width: float) -> None:
    outlet = profile.outlet
    main = "、".join(profile.main_pollutants) or "—"
    rows = [
        ("单位名称", outlet.enterprise.name),
        ("排放口编号", outlet.code),
        ("排放口名称", outlet.name),
        ("排放方式", outlet.mode_label),
        ("排放去向", outlet.destination),
        ("主要污染物", main),
        ("执行标准", "；".join(profile.standards) or "—"),
        ("许可证编号", profile.permit.number if profile.permit else "—"),
    ]
    pdf.set_xy(x, y)
    for name, value in rows:
        pdf.set_font("cjk", size=10)
        pdf.set_x(x)
        pdf.cell(24, 7.5, name)
        pdf.set_font("cjk", size=11)
        pdf.multi_cell(width - 24, 7.5, value, new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(x)
