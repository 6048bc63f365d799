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
        "a bad one (not even an object) is reported, not fatal, so the body's schema does not "
        "bind the rows",
        # Said in the schema as well (the rows a client means to send are typed), without
        # binding: anything else is a row reported as bad, not a 422. The contract turns the
        # marker into a $ref (app/openapi.py); a `$ref` here would break model_json_schema().
        json_schema_extra={
            "items": {
                "anyOf": [
                    {COMPONENT_REF: "StudyLogImportRow"},
                    {"description": "Anything else: reported as a bad row"},
                ]
            }
        },
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
