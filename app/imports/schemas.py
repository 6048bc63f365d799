import uuid
from typing import Any

from pydantic import Field

from app.enums import StudyLogKind
from app.schema_types import (
    COMPONENT_REF,
    Code,
    Hours,
    InputModel,
    LocalDate,
    Name,
    OutputModel,
    Text,
)

MAX_ROWS = 50_000


class StudyLogImportRow(InputModel):
    """One historical study log. Without `id`, the row's id is derived from its cadre, kind,
    dates and title, so the same row imported twice is created once."""

    id: uuid.UUID | None = None
    hr_id: Code
    kind: StudyLogKind
    title: Name
    provider: Name | None = None
    start_date: LocalDate
    end_date: LocalDate
    hours: Hours
    days: Hours | None = None
    status: str | None = Field(default=None, description="approved (default) or pending")
    note: Text | None = None


class StudyLogImport(InputModel):
    items: list[Any] = Field(
        max_length=MAX_ROWS,
        description="Study logs as `StudyLogImportRow` objects. Each row is checked on its own: "
        "a bad row (a missing or misspelt field, a wrong value, not even an object) is reported "
        "in the answer's `problems` with its position, and the good rows are imported (or, with "
        "`dry_run`, checked); it is not a 422 of the whole body",
        # The contract types the rows (a client's typo'd row does not compile), while the server
        # stays lenient, row by row. The contract turns the marker into a $ref
        # (app/openapi/components.py); a `$ref` here would break model_json_schema().
        json_schema_extra={"items": {COMPONENT_REF: "StudyLogImportRow"}},
    )


class ImportProblem(OutputModel):
    row: int = Field(description="0-based position among the rows")
    pointer: str = Field(description="/body/items/N/field, or /rows/LINE/field for CSV")
    detail: str
    code: str


class ImportReport(OutputModel):
    dry_run: bool
    rows: int
    created: int
    already_imported: int = Field(description="Rows whose id exists: imported before")
    rejected: int
    problems: list[ImportProblem]
    elapsed_seconds: float
