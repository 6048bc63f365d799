import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from app.db import DbSession
from app.enums import StudyLogKind
from app.errors import AppError, ProblemFieldError, UnprocessableEntity
from app.http import API_PREFIX, problems
from app.idempotency.route import IdempotentRoute
from app.imports import service
from app.schema_types import Code, Hours, InputModel, LocalDate, Name, OutputModel, Text
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}/imports", tags=["imports"], route_class=IdempotentRoute)


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
    items: list[dict[str, Any]] = Field(
        max_length=service.MAX_ROWS,
        description="Study logs as `StudyLogImportRow` objects. Each row is checked on its own: "
        "a bad one is reported, not fatal, so the body's schema does not bind the rows",
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


class UnsupportedMediaType(AppError):
    status = 415
    code = "import.unsupported_media_type"
    title = "Send application/json or text/csv"


class TooManyRows(UnprocessableEntity):
    code = "import.too_many_rows"
    title = f"At most {service.MAX_ROWS} rows a request"


_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/StudyLogImport"}},
        "text/csv": {
            "schema": {
                "type": "string",
                "maxLength": 100_000_000,
                "description": "UTF-8 (a BOM is fine), a header row with the field names of "
                "StudyLogImportRow",
            }
        },
    },
}


@router.post(
    "/study-logs",
    operation_id="importStudyLogs",
    responses=problems(UnsupportedMediaType, TooManyRows),
    openapi_extra={"requestBody": _BODY},
)
async def import_study_logs(
    request: Request,
    db_session: DbSession,
    actor: CurrentActor,
    dry_run: Annotated[bool, Query(description="Check and count; keep nothing")] = False,
) -> ImportReport:
    """Bulk import of historical study logs, JSON (`{"items": [...]}`) or CSV. Every row is
    checked on its own; the report lists the rejected ones with a pointer. The good rows are
    loaded with COPY in one statement; their ids make a re-import create nothing new."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    rows: list[Any]
    csv_lines: list[int] | None = None
    try:
        if media == "text/csv":
            try:
                rows, csv_lines = service.rows_from_csv(body)
            except service.IncompleteHeader as exc:
                raise UnprocessableEntity(
                    "The CSV's header row must name the study-log fields.",
                    errors=[
                        ProblemFieldError(
                            pointer="/body", detail=str(exc), code="csv_header_incomplete"
                        )
                    ],
                ) from exc
        elif media == "application/json":
            parsed = json.loads(body)
            if (
                not isinstance(parsed, dict)
                or set(parsed) - {"items"}
                or not isinstance(parsed.get("items"), list)
            ):
                raise ValueError('expected {"items": [...]}')
            rows = parsed["items"]
        else:
            raise UnsupportedMediaType()
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnprocessableEntity(
            "The body could not be read.",
            errors=[ProblemFieldError(pointer="/body", detail=str(exc)[:200], code="unreadable")],
        ) from exc
    if len(rows) > service.MAX_ROWS:
        raise TooManyRows()
    result = await service.import_study_logs(
        db_session, rows, actor, dry_run=dry_run, csv_lines=csv_lines
    )
    return ImportReport.model_validate(result, from_attributes=True)
