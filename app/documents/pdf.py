"""A4 table documents as PDF: a title, subtitle lines, then a bordered table whose header row is
repeated at the top of every page, and "page x of y" at the foot of each page.

The text is set in Noto Sans SC (SIL Open Font License 1.1), shipped from PyPI by the
`pylopdf-fonts-zh-cn` package, so a fresh machine renders Chinese without system fonts. fpdf2
embeds only the glyphs a document uses (a subset), so a sheet of a few pages stays a few tens of
kilobytes and shows the same everywhere, whatever fonts the reader's machine has.

A table whose columns do not fit the width of a portrait page is laid out in landscape. A
character the font lacks (an emoji, a rare character beyond the 通用规范汉字表) prints as 〓, the
printer's mark for a missing character, rather than vanishing: "王〓" shows a name is incomplete,
"王" would read as another name."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path

import pylopdf_fonts_zh_cn
from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableCellFillMode, WrapMode
from fpdf.fonts import TTFFont

FONT = "noto-sans-sc"
MARGIN = 12.0  # mm, on every side
A4_SHORT, A4_LONG = 210.0, 297.0
TITLE_SIZE = 16.0
SUBTITLE_SIZE = 10.0
TABLE_SIZE = 9.5
FOOTER_SIZE = 8.0
_HEADER_FILL = (235, 235, 235)
# A fixed creation date keeps a document's bytes the same for the same content (and says
# nothing about when it was printed); the caller may give the real one.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MISSING = "〓"  # U+3013 GETA MARK
_LAYOUT = frozenset("\n\r\t ")


class Orientation(StrEnum):
    portrait = "P"
    landscape = "L"


@cache
def font_path() -> Path:
    """The CJK font file: Noto Sans SC Regular, from the installed wheel."""
    return pylopdf_fonts_zh_cn.sans_path()


@dataclass(frozen=True)
class Column:
    """A table column: its header, the width it needs at least (mm) and how its cells align
    (L, C or R). Widths grow in proportion to fill the page."""

    header: str
    width: float
    align: str = "L"


@dataclass(frozen=True)
class TableSection:
    """One table, starting on a new page: its title and subtitle lines, its columns, and its
    rows (text; one string per column). `row_height` is the least height of a row in mm (a
    signature needs room)."""

    title: str
    subtitle: Sequence[str]
    columns: Sequence[Column]
    rows: Sequence[Sequence[str]]
    row_height: float = 8.0

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError("a table needs at least one column")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError("every row needs one cell per column")

    @property
    def orientation(self) -> Orientation:
        needed = sum(c.width for c in self.columns)
        return Orientation.portrait if needed <= A4_SHORT - 2 * MARGIN else Orientation.landscape


@dataclass(frozen=True)
class TableDocument:
    """A PDF of one or more table sections. `page_label` is the footer, with `{page}` and
    `{pages}` (e.g. "第 {page} 页，共 {pages} 页")."""

    sections: Sequence[TableSection]
    page_label: str = "{page} / {pages}"
    author: str = ""
    created_at: datetime = field(default=_EPOCH)

    def to_pdf(self) -> bytes:
        pdf = _Pdf(self.page_label)
        pdf.set_creation_date(self.created_at)
        pdf.set_title(self.sections[0].title if self.sections else "")
        if self.author:
            pdf.set_author(self.author)
        for section in self.sections:
            _draw_section(pdf, section)
        if not self.sections:
            pdf.add_page()
        return bytes(pdf.output())


class _Pdf(FPDF):
    """FPDF with the CJK font and a footer of page numbers."""

    def __init__(self, page_label: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.page_label = page_label
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN + 6)
        self.add_font(FONT, "", str(font_path()))
        self.set_font(FONT, size=TABLE_SIZE)
        self.alias_nb_pages("{nb}")

    def printable(self, text: str) -> str:
        """`text` with the characters the font has no glyph for as MISSING."""
        font = self.fonts[FONT]
        assert isinstance(font, TTFFont)
        cmap = font.cmap
        return "".join(ch if ord(ch) in cmap or ch in _LAYOUT else MISSING for ch in text)

    def footer(self) -> None:
        self.set_y(-MARGIN - 2)
        self.set_font(FONT, size=FOOTER_SIZE)
        label = self.page_label.format(page=self.page_no(), pages="{nb}")
        self.cell(w=0, h=5, text=label, align=Align.C)


def _draw_section(pdf: _Pdf, section: TableSection) -> None:
    pdf.add_page(orientation=section.orientation.value)
    pdf.set_font(FONT, size=TITLE_SIZE)
    title = pdf.printable(section.title)
    pdf.multi_cell(w=0, h=9, text=title, align=Align.C, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=SUBTITLE_SIZE)
    for line in section.subtitle:
        line = pdf.printable(line)
        pdf.multi_cell(w=0, h=6, text=line, align=Align.L, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FONT, size=TABLE_SIZE)
    # The font has one weight: the header row stands out by its shading, not bold.
    heading = FontFace(emphasis="", fill_color=_HEADER_FILL)
    with pdf.table(
        col_widths=[c.width for c in section.columns],
        text_align=[c.align for c in section.columns],
        headings_style=heading,
        line_height=TABLE_SIZE * 0.5,
        padding=(1.2, 1.5),
        wrapmode=WrapMode.CHAR,  # Chinese has no spaces to break at
        cell_fill_mode=TableCellFillMode.NONE,
        repeat_headings=1,
        min_row_height=section.row_height,
    ) as table:
        header = table.row()
        for column in section.columns:
            header.cell(pdf.printable(column.header), align=Align.C)
        for values in section.rows:
            row = table.row()
            for value in values:
                row.cell(pdf.printable(value))
