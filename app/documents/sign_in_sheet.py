"""The sign-in sheet (签到表) of a training session: one row per trainee, one column per class
part (a half-day: date and period). A part's cell is where the trainee signs on paper; where a
mark is already recorded (present, on leave...), the cell shows its label. A session without
parts has one column for the whole session.

Built from plain data (`SignInSheet`), so the attendance records, or only the enrollments, can
feed it; `to_pdf()` gives a printable A4 document (app.documents.pdf), `to_xlsx()` a workbook.
Words are zh-CN by default, en on request (app.i18n catalogues)."""

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from babel.dates import format_skeleton
from openpyxl import Workbook
from openpyxl.styles import Alignment

from app.documents.pdf import Column, TableDocument, TableSection
from app.documents.spreadsheet import cell, column_widths, end_sheet, start_sheet
from app.enums import Language
from app.i18n import N_, gettext

# Part columns on one page at most: more parts continue in another table of the same trainees.
PARTS_PER_PAGE = 10
_PART_WIDTH = 18.0  # mm: room for a signature
_SIGNATURE_ROW = 11.0  # mm
_XLSX_ROW_POINTS = 28  # points: room for a signature on a printed workbook
_BABEL_LOCALES = {Language.zh_cn: "zh_CN", Language.en: "en"}
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_UNSAFE_IN_FILENAMES = frozenset('/\\:*?"<>|\x00')

SHEET_TITLE = N_("{title}: sign-in sheet")
NUMBER = N_("No.")
NAME = N_("Name")
UNIT = N_("Unit")
SIGNATURE = N_("Signature")
ORGANISER = N_("Organiser: {organiser}")
DATES = N_("Dates: {start} to {end}")
TRAINEES = N_("Trainees: {count}")
PARTS_RANGE = N_("Class parts {first} to {last} of {total}")
PAGE = N_("Page {page} of {pages}")
SESSION = N_("Training session")
SHEET = N_("Sign-in sheet")
FIELD = N_("Field")
VALUE = N_("Value")
START = N_("Start date")
END = N_("End date")
PART_COUNT = N_("Class parts")
ORGANISER_FIELD = N_("Organiser")
TRAINEE_COUNT = N_("Trainees")


@dataclass(frozen=True)
class SheetPart:
    """A class part: its day and its period as the reader calls it (上午, 下午, 晚上)."""

    day: date
    period: str


@dataclass(frozen=True)
class SheetRow:
    """A trainee: name, unit, and one entry per part (one for the whole session when there
    are no parts): the label of its recorded mark, or None for a blank cell to sign in."""

    name: str
    unit: str
    marks: Sequence[str | None]


@dataclass(frozen=True)
class SignInSheet:
    title: str
    organiser: str
    start_date: date
    end_date: date
    parts: Sequence[SheetPart]
    rows: Sequence[SheetRow]
    lang: Language = Language.zh_cn
    created_at: datetime = field(default=_EPOCH)

    def __post_init__(self) -> None:
        columns = max(len(self.parts), 1)
        for row in self.rows:
            if len(row.marks) != columns:
                raise ValueError("every row needs one mark per part (one without parts)")

    def _(self, message: str) -> str:
        return gettext(message, self.lang.value)

    @property
    def heading(self) -> str:
        return self._(SHEET_TITLE).format(title=self.title)

    def filename(self, extension: str) -> str:
        """签到表-<title>.pdf: no characters a file system refuses (a title may hold a slash)."""
        title = "".join("_" if ch in _UNSAFE_IN_FILENAMES else ch for ch in self.title)
        return f"{self._(SHEET)}-{title}.{extension}"

    def part_header(self, part: SheetPart, *, one_line: bool = False) -> str:
        day = format_skeleton("MMMd", part.day, locale=_BABEL_LOCALES[self.lang])
        return f"{day}{' ' if one_line else chr(10)}{part.period}"

    def part_headers(self, *, one_line: bool = False) -> list[str]:
        if not self.parts:
            return [self._(SIGNATURE)]
        return [self.part_header(p, one_line=one_line) for p in self.parts]

    def subtitle(self) -> list[str]:
        return [
            self._(ORGANISER).format(organiser=self.organiser),
            self._(DATES).format(start=self.start_date.isoformat(), end=self.end_date.isoformat()),
            self._(TRAINEES).format(count=len(self.rows)),
        ]

    # --- PDF

    def _sections(self) -> list[TableSection]:
        headers = self.part_headers()
        chunks = _chunks(len(headers), PARTS_PER_PAGE)
        sections = []
        for first, last in chunks:
            subtitle = self.subtitle()
            if len(chunks) > 1:
                subtitle.append(
                    self._(PARTS_RANGE).format(first=first + 1, last=last, total=len(headers))
                )
            columns = [
                Column(self._(NUMBER), 10.0, "C"),
                Column(self._(NAME), 26.0),
                Column(self._(UNIT), 44.0),
                *(Column(h, _PART_WIDTH, "C") for h in headers[first:last]),
            ]
            rows = [
                [str(n), row.name, row.unit, *(m or "" for m in row.marks[first:last])]
                for n, row in enumerate(self.rows, start=1)
            ]
            sections.append(
                TableSection(self.heading, subtitle, columns, rows, row_height=_SIGNATURE_ROW)
            )
        return sections

    def to_pdf(self) -> bytes:
        """The printable sheet: A4, landscape when the parts do not fit a portrait page, the
        header row on every page, "page x of y" at the foot."""
        return TableDocument(
            sections=self._sections(),
            page_label=self._(PAGE),
            author=self.organiser,
            created_at=self.created_at,
        ).to_pdf()

    # --- XLSX

    def to_xlsx(self) -> bytes:
        """A workbook: the sheet (header frozen, filter, widths, A4 print setup with the title
        and page numbers, the header row printed on every page) and the session's facts."""
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = self._(SHEET)
        self._write_table(sheet)
        info = workbook.create_sheet(self._(SESSION))
        self._write_info(info)
        workbook.properties.title = self.heading
        workbook.properties.creator = self.organiser
        workbook.properties.created = self.created_at.replace(tzinfo=None)
        workbook.properties.modified = self.created_at.replace(tzinfo=None)
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()

    def _write_table(self, sheet: Any) -> None:
        header = [self._(NUMBER), self._(NAME), self._(UNIT), *self.part_headers(one_line=True)]
        rows = [
            [n, cell(row.name), cell(row.unit), *(cell(m) for m in row.marks)]
            for n, row in enumerate(self.rows, start=1)
        ]
        start_sheet(sheet, header, column_widths(header, rows[:200]))
        for values in rows:
            sheet.append(values)
        end_sheet(sheet, len(header), len(rows))
        centred = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for index in range(2, len(rows) + 2):
            sheet.row_dimensions[index].height = _XLSX_ROW_POINTS
            for column in (1, *range(4, len(header) + 1)):
                sheet.cell(row=index, column=column).alignment = centred
        _print_setup(sheet, self.heading, self._(PAGE), landscape=len(header) > 8)

    def _write_info(self, sheet: Any) -> None:
        header = [self._(FIELD), self._(VALUE)]
        rows: list[list[Any]] = [
            [self._(SESSION), cell(self.title)],
            [self._(ORGANISER_FIELD), cell(self.organiser)],
            [self._(START), self.start_date],
            [self._(END), self.end_date],
            [self._(PART_COUNT), len(self.parts)],
            [self._(TRAINEE_COUNT), len(self.rows)],
        ]
        start_sheet(sheet, header, column_widths(header, rows))
        for values in rows:
            sheet.append(values)
        for index in (4, 5):
            sheet.cell(row=index, column=2).number_format = "yyyy-mm-dd"


def _print_setup(sheet: Any, title: str, page_label: str, *, landscape: bool) -> None:
    """A4, fitted to the page width, the header row repeated, the title at the top of each
    printed page and the page numbers at the foot (Excel's &P and &N)."""
    setup = sheet.page_setup
    setup.paperSize = 9  # A4 (ECMA-376 ST_PaperSize)
    setup.orientation = "landscape" if landscape else "portrait"
    setup.fitToWidth = 1
    setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    sheet.oddHeader.center.text = title.replace("&", "&&")
    sheet.oddFooter.center.text = page_label.format(page="&P", pages="&N")


def _chunks(count: int, size: int) -> list[tuple[int, int]]:
    """`count` columns in balanced runs of at most `size`: 12 in 10 → 6 + 6, not 10 + 2."""
    runs = -(-count // size)
    base, extra = divmod(count, runs)
    out, first = [], 0
    for run in range(runs):
        last = first + base + (1 if run < extra else 0)
        out.append((first, last))
        first = last
    return out
