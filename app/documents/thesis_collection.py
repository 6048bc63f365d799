"""论文汇编: the excellent theses of a session or a year as one document, PDF or DOCX. Pure: given
plain data, return bytes.

Both open with a cover (the title, the number of texts), then a table of contents, then each
text on a page of its own: its title, author, unit and kind, and its paragraphs.

- PDF: A4 in Noto Sans SC (app.documents.pdf), page numbers at the foot of every page but the
  cover. The table of contents is fpdf2's placeholder, filled in once every text is placed, so
  each line shows the page its text really starts on. Its pages are reserved first: one line
  per text, each title cut to one line, so their number is known in advance.
- DOCX (python-docx): Heading 1 per text, so Word's navigation pane lists them; the contents
  page holds a real Word TOC field (Word fills in the page numbers when the field is updated,
  as Word computes pages and this code cannot) and, below it, the plain list of titles.
"""

import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt
from docx.text.paragraph import Paragraph
from fpdf import FPDF
from fpdf.enums import Align, WrapMode
from fpdf.outline import OutlineSection

from app.documents.pdf import FONT, _Pdf

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
TOC_ROW = 8.0  # mm: one line of the table of contents
TOC_HEADING_ROWS = 2  # the heading takes the height of two lines
NUMBER_WIDTH = 14.0  # mm: the page number's column
BODY_SIZE = 11.5
BODY_LINE = 7.0  # mm
INDENT = "\u3000\u3000"  # two ideographic spaces: a Chinese paragraph's first-line indent
DOCX_FONT = "SimSun"  # 宋体: what a Chinese Word installation has; others substitute
# What XML 1.0 cannot hold (C0 controls but tab and line breaks, the noncharacters U+FFFE and
# U+FFFF, lone surrogates): the API's text patterns let U+FFFE/U+FFFF through, and lxml refuses
# them, so the DOCX leaves them out where the PDF shows nothing for them anyway.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)


@dataclass(frozen=True)
class CollectionEntry:
    title: str
    author: str
    unit: str
    kind: str
    body: str

    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.splitlines() if p.strip()]


@dataclass(frozen=True)
class CollectionWords:
    """The document's own words in its language; `page` has `{page}`, `count` `{count}`."""

    contents: str
    author: str
    unit: str
    kind: str
    page: str
    count: str


@dataclass(frozen=True)
class Collection:
    title: str
    entries: Sequence[CollectionEntry]
    words: CollectionWords


class _CollectionPdf(_Pdf):
    """No page number on the cover."""

    def footer(self) -> None:
        if self.page_no() > 1:
            super().footer()


def toc_pages(pdf: _Pdf, entries: int) -> int:
    """How many pages the table of contents takes: one row per entry under its heading."""
    usable = pdf.h - pdf.t_margin - pdf.b_margin
    per_page = math.floor(usable / TOC_ROW + 1e-9)
    return max(1, math.ceil((entries + TOC_HEADING_ROWS) / per_page))


def _one_line(pdf: FPDF, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _render_toc(words: CollectionWords) -> Callable[[FPDF, list[OutlineSection]], None]:
    def render(pdf: FPDF, outline: list[OutlineSection]) -> None:
        pdf.set_font(FONT, size=16)
        pdf.cell(w=0, h=TOC_ROW * TOC_HEADING_ROWS, text=words.contents, align=Align.C)
        pdf.ln(TOC_ROW * TOC_HEADING_ROWS)
        pdf.set_font(FONT, size=BODY_SIZE)
        width = pdf.epw - NUMBER_WIDTH
        for section in outline:
            link = pdf.add_link(page=section.page_number)
            pdf.cell(w=width, h=TOC_ROW, text=_one_line(pdf, section.name, width - 2), link=link)
            number = str(section.page_number)
            pdf.cell(w=NUMBER_WIDTH, h=TOC_ROW, text=number, align=Align.R, link=link)
            pdf.ln(TOC_ROW)

    return render


def _cover(pdf: _Pdf, collection: Collection) -> None:
    pdf.add_page()
    pdf.set_font(FONT, size=24)
    pdf.set_y(pdf.h / 3)
    title = pdf.printable(collection.title)
    pdf.multi_cell(w=0, h=14, text=title, align=Align.C, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_font(FONT, size=13)
    count = collection.words.count.format(count=len(collection.entries))
    pdf.cell(w=0, h=8, text=count, align=Align.C)


def _entry(pdf: _Pdf, entry: CollectionEntry, words: CollectionWords) -> None:
    title = pdf.printable(entry.title)
    pdf.start_section(title, level=0)
    pdf.set_font(FONT, size=18)
    pdf.multi_cell(w=0, h=11, text=title, align=Align.C, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FONT, size=10.5)
    byline = "　".join(
        (
            f"{words.author}：{pdf.printable(entry.author)}",
            f"{words.unit}：{pdf.printable(entry.unit)}",
            f"{words.kind}：{entry.kind}",
        )
    )
    pdf.multi_cell(w=0, h=7, text=byline, align=Align.C, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    pdf.set_font(FONT, size=BODY_SIZE)
    for paragraph in entry.paragraphs():
        pdf.multi_cell(
            w=0,
            h=BODY_LINE,
            text=INDENT + pdf.printable(paragraph),
            align=Align.J,
            wrapmode=WrapMode.CHAR,  # Chinese has no spaces to break at
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.ln(1.5)


def collection_pdf(collection: Collection) -> bytes:
    pdf = _CollectionPdf(collection.words.page)
    pdf.set_creation_date(_EPOCH)
    pdf.set_title(collection.title)
    _cover(pdf, collection)
    pdf.add_page()
    pages = toc_pages(pdf, len(collection.entries))
    pdf.insert_toc_placeholder(_render_toc(collection.words), pages=pages)
    for n, entry in enumerate(collection.entries):
        if n:
            pdf.add_page()
        _entry(pdf, entry, collection.words)
    return bytes(pdf.output())


# --- DOCX --------------------------------------------------------------------------------------


def _toc_field(paragraph: Paragraph, placeholder: str) -> None:
    """A Word TOC field over the Heading 1 paragraphs, with links; Word computes its page
    numbers when the field is updated (it asks on opening: `w:updateFields`)."""

    def char(kind: str) -> None:
        run = paragraph.add_run()
        fld = OxmlElement("w:fldChar")
        fld.set(qn("w:fldCharType"), kind)
        run._r.append(fld)

    char("begin")
    instruction = paragraph.add_run()
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = 'TOC \\o "1-1" \\h \\z \\u'
    instruction._r.append(text)
    char("separate")
    paragraph.add_run(placeholder)
    char("end")


def _east_asian_font(document: object, name: str) -> None:
    styles = document.styles  # type: ignore[attr-defined]
    for style_name in ("Normal", "Title", "Heading 1"):
        style = styles[style_name]
        style.font.name = name
        fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
        fonts.set(qn("w:eastAsia"), name)


def collection_docx(collection: Collection) -> bytes:
    collection = Collection(
        title=_xml_safe(collection.title),
        entries=[
            replace(
                entry,
                title=_xml_safe(entry.title),
                author=_xml_safe(entry.author),
                unit=_xml_safe(entry.unit),
                kind=_xml_safe(entry.kind),
                body=_xml_safe(entry.body),
            )
            for entry in collection.entries
        ],
        words=collection.words,
    )
    document = Document()
    _east_asian_font(document, DOCX_FONT)
    properties = document.core_properties
    properties.title = collection.title
    properties.author = ""
    properties.last_modified_by = ""
    properties.created = _EPOCH.replace(tzinfo=None)
    properties.modified = _EPOCH.replace(tzinfo=None)
    properties.revision = 1
    words = collection.words

    title = document.add_paragraph(collection.title, style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    count = document.add_paragraph(words.count.format(count=len(collection.entries)))
    count.alignment = WD_ALIGN_PARAGRAPH.CENTER
    count.add_run().add_break(WD_BREAK.PAGE)

    contents = document.add_paragraph(words.contents, style="TOC Heading")
    contents.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _toc_field(document.add_paragraph(), words.contents)
    for entry in collection.entries:
        document.add_paragraph(entry.title, style="List Number")

    for entry in collection.entries:
        heading = document.add_heading(entry.title, level=1)
        heading.paragraph_format.page_break_before = True
        heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
        byline = document.add_paragraph(
            f"{words.author}：{entry.author}　{words.unit}：{entry.unit}"
            f"　{words.kind}：{entry.kind}"
        )
        byline.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for text in entry.paragraphs():
            paragraph = document.add_paragraph(text)
            paragraph.paragraph_format.first_line_indent = Pt(BODY_SIZE * 2)

    settings = document.settings.element
    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    settings.append(update)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
