"""File formats of the exports: CSV for Excel (UTF-8 with BOM, formulas defused) and XLSX."""

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from openpyxl import Workbook

# The spreadsheet helpers live with the documents (app.documents.spreadsheet); archives and
# exports use them through this module as before.
from app.documents.spreadsheet import (
    TypedCells,
    cell,
    column_widths,
    content_disposition,
    end_sheet,
    start_sheet,
)

__all__ = [
    "BOM",
    "MEDIA_TYPES",
    "ExportFormat",
    "TypedCells",
    "UnitExportFormat",
    "column_widths",
    "content_disposition",
    "csv_line",
    "end_sheet",
    "start_sheet",
    "xlsx_bytes",
]


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class UnitExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


MEDIA_TYPES = {
    ExportFormat.json: "application/json",
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

BOM = "\ufeff"


def _text(value: Any) -> Any:
    """Dates as ISO 8601 in CSV; numbers and text as they are."""
    return value.isoformat() if isinstance(value, date) else value


def csv_line(values: Sequence[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([cell(_text(v)) for v in values])
    return out.getvalue()


def xlsx_bytes(sheets: Iterable[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]) -> bytes:
    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=title)
        start_sheet(sheet, header, column_widths(header, rows[:200]))
        typed = TypedCells(sheet)
        for row in rows:
            sheet.append(typed.row(row))
        end_sheet(sheet, len(header), len(rows))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
