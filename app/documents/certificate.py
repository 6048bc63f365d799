"""结业证书 as PDF: one A4 page per certificate, in Noto Sans SC (app.documents.pdf), with a QR
code of the verification URL (segno draws it; fpdf2 places it as a PNG)."""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import segno

from app.documents.pdf import FONT, _Pdf

QR_SIZE = 40.0  # mm: a phone reads it from arm's length
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CertificatePage:
    serial: str
    name: str
    title: str
    start_date: date
    end_date: date
    hours: Decimal
    days: Decimal
    organiser: str
    verify_url: str
    revoked: bool = False


def _day(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _figure(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _qr_png(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=10, border=4)
    return out.getvalue()


def _draw(pdf: _Pdf, page: CertificatePage) -> None:
    pdf.add_page()
    pdf.set_font(FONT, size=30)
    pdf.ln(20)
    pdf.cell(w=0, h=16, text="结业证书", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=11)
    pdf.cell(w=0, h=8, text=f"编号：{page.serial}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(14)
    pdf.set_font(FONT, size=15)
    body = (
        f"{pdf.printable(page.name)}同志于{_day(page.start_date)}至{_day(page.end_date)}"
        f"参加{pdf.printable(page.title)}，完成全部学习任务，"
        f"计{_figure(page.hours)}学时、{_figure(page.days)}天，准予结业。"
    )
    pdf.multi_cell(w=0, h=11, text=body, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(20)
    pdf.cell(w=0, h=9, text=pdf.printable(page.organiser), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(w=0, h=9, text=_day(page.end_date), align="R", new_x="LMARGIN", new_y="NEXT")
    if page.revoked:
        pdf.set_font(FONT, size=20)
        pdf.ln(6)
        pdf.cell(w=0, h=12, text="已撤销", align="C", new_x="LMARGIN", new_y="NEXT")
    top = pdf.h - 30 - QR_SIZE
    pdf.image(io.BytesIO(_qr_png(page.verify_url)), x=(pdf.w - QR_SIZE) / 2, y=top, w=QR_SIZE)
    pdf.set_y(top + QR_SIZE + 2)
    pdf.set_font(FONT, size=9)
    pdf.cell(w=0, h=5, text="扫码验证证书真伪", align="C", new_x="LMARGIN", new_y="NEXT")


def certificates_pdf(pages: Sequence[CertificatePage]) -> bytes:
    pdf = _Pdf("")
    pdf.set_creation_date(_EPOCH)
    pdf.set_title("结业证书")
    pdf.set_auto_page_break(auto=False)
    for page in pages:
        _draw(pdf, page)
    return bytes(pdf.output())
