"""结业证书 as PDF: one A4 page per certificate, in Noto Sans SC (app.documents.pdf), with a QR
code of the verification URL (segno draws it; fpdf2 places it as a PNG). In Chinese, or in
English on request ("Certificate of Completion"); names and titles are printed as they are."""

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


@dataclass(frozen=True)
class _Words:
    """The fixed words of the page in one language."""

    heading: str
    serial: str  # {serial}
    body: str  # {name} {start} {end} {title} {hours} {days}
    one_day: str  # {days} when the class took one day, else `body` as it is
    revoked: str
    scan: str
    body_align: str


_WORDS = {
    "zh-CN": _Words(
        heading="结业证书",
        serial="编号：{serial}",
        body="{name}同志于{start}至{end}参加{title}，完成全部学习任务，计{hours}学时、{days}天，准予结业。",
        one_day="{name}同志于{start}至{end}参加{title}，完成全部学习任务，计{hours}学时、{days}天，准予结业。",
        revoked="已撤销",
        scan="扫码验证证书真伪",
        body_align="L",
    ),
    "en": _Words(
        heading="Certificate of Completion",
        serial="No. {serial}",
        body="This is to certify that {name} attended {title} from {start} to {end}, "
        "completed all its study, {hours} credit hours over {days} days, and has graduated.",
        one_day="This is to certify that {name} attended {title} from {start} to {end}, "
        "completed all its study, {hours} credit hours over {days} day, and has graduated.",
        revoked="REVOKED",
        scan="Scan to verify this certificate",
        body_align="L",
    ),
}
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _day(d: date, lang: str = "zh-CN") -> str:
    if lang == "en":
        return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"
    return f"{d.year}年{d.month}月{d.day}日"


def _figure(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _qr_png(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=10, border=4)
    return out.getvalue()


def _draw(pdf: _Pdf, page: CertificatePage, lang: str) -> None:
    words = _WORDS[lang]
    pdf.add_page()
    pdf.set_font(FONT, size=30 if lang == "zh-CN" else 26)
    pdf.ln(20)
    pdf.cell(w=0, h=16, text=words.heading, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=11)
    serial = words.serial.format(serial=page.serial)
    pdf.cell(w=0, h=8, text=serial, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(14)
    pdf.set_font(FONT, size=15)
    template = words.one_day if page.days == 1 else words.body
    body = template.format(
        name=pdf.printable(page.name),
        start=_day(page.start_date, lang),
        end=_day(page.end_date, lang),
        title=pdf.printable(page.title),
        hours=_figure(page.hours),
        days=_figure(page.days),
    )
    pdf.multi_cell(w=0, h=11, text=body, align=words.body_align, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(20)
    pdf.cell(w=0, h=9, text=pdf.printable(page.organiser), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(w=0, h=9, text=_day(page.end_date, lang), align="R", new_x="LMARGIN", new_y="NEXT")
    if page.revoked:
        pdf.set_font(FONT, size=20)
        pdf.ln(6)
        pdf.cell(w=0, h=12, text=words.revoked, align="C", new_x="LMARGIN", new_y="NEXT")
    top = pdf.h - 30 - QR_SIZE
    pdf.image(io.BytesIO(_qr_png(page.verify_url)), x=(pdf.w - QR_SIZE) / 2, y=top, w=QR_SIZE)
    pdf.set_y(top + QR_SIZE + 2)
    pdf.set_font(FONT, size=9)
    pdf.cell(w=0, h=5, text=words.scan, align="C", new_x="LMARGIN", new_y="NEXT")


def certificates_pdf(pages: Sequence[CertificatePage], lang: str = "zh-CN") -> bytes:
    """`lang`: "zh-CN" (结业证书) or "en" (Certificate of Completion)."""
    pdf = _Pdf("")
    pdf.set_creation_date(_EPOCH)
    pdf.set_title(_WORDS[lang].heading)
    pdf.set_auto_page_break(auto=False)
    for page in pages:
        _draw(pdf, page, lang)
    return bytes(pdf.output())
