"""Spreadsheet helpers shared by every XLSX and CSV file the service writes (archives, exports,
the sign-in sheet): cells defused against formula injection, typed cells with number formats,
column widths that count CJK characters double, a frozen header with a filter, and the
Content-Disposition of a file with a Chinese name."""

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from app.clock import LOCAL_TZ

# A cell starting with one of these is a formula to Excel (and a way to run one on open).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A value safe to put in a spreadsheet: text that Excel would read as a formula gets a
    leading apostrophe (OWASP CSV injection). Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
NUMBER_FORMAT = "0.00"  # hours and days: Decimal, two places at most
_MIN_WIDTH = 10  # Excel's default is 8.43 characters
_MAX_WIDTH = 60


def display_width(value: Any) -> int:
    """How many character widths a value takes in a cell: CJK (wide) characters count double."""
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def column_widths(header: Sequence[str], sample: Iterable[Sequence[Any]]) -> list[int]:
    """Widths from the header and a sample of rows, within bounds."""
    widths = [display_width(h) for h in header]
    for row in sample:
        for i, value in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], display_width(value))
    return [min(max(w + 2, _MIN_WIDTH), _MAX_WIDTH) for w in widths]


def start_sheet(sheet: Any, header: Sequence[str], widths: Sequence[int]) -> None:
    """A write-only sheet before its first row: the header row frozen, column widths, the
    header written (bold)."""
    sheet.freeze_panes = "A2"
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.append(list(header))


def end_sheet(sheet: Any, columns: int, rows: int) -> None:
    """An autofilter over the header and the `rows` data rows (written at save)."""
    sheet.auto_filter.ref = f"A1:{get_column_letter(columns)}{rows + 1}"


class TypedCells:
    """Typed cells for one write-only sheet: dates as dates, date-times as local date-times,
    Decimal hours as numbers, each with its number format; text defused (`cell`).

    A styled cell is one object per column and format, given each row's value: openpyxl writes
    a row's cells when the row is appended, so a row must be appended before the next is typed
    (a new cell object per value made large exports twice as slow)."""

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet
        self.cells: dict[tuple[int, str], WriteOnlyCell] = {}

    def _styled(self, column: int, value: Any, number_format: str) -> WriteOnlyCell:
        typed = self.cells.get((column, number_format))
        if typed is None:
            typed = self.cells[column, number_format] = WriteOnlyCell(self.sheet)
            typed.number_format = number_format
        typed.value = value
        return typed

    def row(self, values: Sequence[Any]) -> list[Any]:
        out: list[Any] = []
        for column, value in enumerate(values):
            if isinstance(value, str):
                out.append(cell(value))
            elif isinstance(value, datetime):
                local = value.astimezone(LOCAL_TZ).replace(tzinfo=None)
                out.append(self._styled(column, local, DATETIME_FORMAT))
            elif isinstance(value, date):
                out.append(self._styled(column, value, DATE_FORMAT))
            elif isinstance(value, Decimal):
                out.append(self._styled(column, value, NUMBER_FORMAT))
            else:
                out.append(value)
        return out


def content_disposition(filename: str) -> str:
    """RFC 6266 with RFC 5987 `filename*` for Chinese names, and an ASCII fallback."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
