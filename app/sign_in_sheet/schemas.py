from enum import StrEnum


class SheetFormat(StrEnum):
    """A sign-in sheet's file: a printable A4 PDF or an XLSX workbook."""

    pdf = "pdf"
    xlsx = "xlsx"


MEDIA_TYPES = {
    SheetFormat.pdf: "application/pdf",
    SheetFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
