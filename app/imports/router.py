import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.db import DbSession
from app.http import API_PREFIX, problems
from app.idempotency.route import IdempotentRoute
from app.imports import service
from app.imports.errors import TooManyRows, UnsupportedMediaType
from app.imports.schemas import ImportReport
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}/imports", tags=["imports"], route_class=IdempotentRoute)


_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/StudyLogImport"}},
        "text/csv": {
            "schema": {
                "type": "string",
                "maxLength": 64 * 1024 * 1024,
                "description": "UTF-8 (a BOM is fine), a header row with the field names of "
                "StudyLogImportRow; a record (a line, or the lines of a quoted cell) of at most "
                "64 KiB",
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
    checked on its own; the report lists the rejected ones with a pointer. Text no field takes,
    a NUL or a lone surrogate (`"\\udfff"`), refuses the whole request instead (422, a pointer
    to each), as it does in any single body. The good rows are loaded with COPY in one
    statement; their ids make a re-import create nothing new. A body may be 64 MB
    (`APP_BODY__IMPORT_MAX_BYTES`) and hold 50,000 rows."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # The body is whole already (app.limits); parsing it is CPU work, kept off the event loop.
    rows, csv_lines = await asyncio.to_thread(service.read_rows, media, await request.body())
    result = await service.import_study_logs(
        db_session, rows, actor, dry_run=dry_run, csv_lines=csv_lines
    )
    return ImportReport.model_validate(result, from_attributes=True)
