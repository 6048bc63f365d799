import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.archive import formats
from app.archive.formats import ExportFormat
from app.compliance.errors import FutureYear
from app.credit_policy.errors import NoPolicyForDate
from app.db import DbSession, transaction
from app.export import repository, rules, service
from app.export.errors import (
    ExportExpired,
    ExportFailed,
    ExportNotFound,
    ExportNotReady,
    RangeNotSatisfiable,
    TooManyExports,
)
from app.export.schemas import ExportCreate, ExportRead
from app.http import API_PREFIX, AppSettings, problems
from app.org_unit.errors import OrgUnitNotFound
from app.pagination import Page, PageQuery
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}/exports", tags=["exports"])


class ExportPage(Page[ExportRead]):
    pass


@router.post(
    "",
    operation_id="createExport",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        202: {
            "description": "The job, queued",
            "headers": {"Location": {"description": "The job's URL", "schema": {"type": "string"}}},
        },
        **problems(OrgUnitNotFound, NoPolicyForDate, FutureYear, TooManyExports),
    },
)
async def create_export(
    body: ExportCreate,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    response: Response,
) -> ExportRead:
    """Ask for a unit's year archive as a file written in the background, for exports too
    large to stream (`GET /org-units/{org_unit_id}/archive` gives the same file directly). Same
    rights and scope as the direct archive; the worker checks them again when it runs, and a
    requester who lost them meanwhile gets a failed job (`export.out_of_scope`). Poll the job
    at `Location` (its progress: `rows_done` of `rows_total`) until it has `succeeded`, then
    download `file_url`. Jobs and files expire after `APP_EXPORTS__RETENTION_HOURS`."""
    job = await service.create_export(db_session, body, actor, settings.exports)
    response.headers["Location"] = f"{API_PREFIX}/exports/{job.id}"
    return service.to_read(job)


@router.get("", operation_id="listExports")
async def list_exports(db_session: DbSession, actor: CurrentActor, page: PageQuery) -> ExportPage:
    """The caller's own export jobs, newest first."""
    items, next_cursor = await service.list_exports(db_session, actor, page)
    return ExportPage(items=[service.to_read(j) for j in items], next_cursor=next_cursor)


@router.get("/{export_id}", operation_id="getExport", responses=problems(ExportNotFound))
async def get_export(
    export_id: uuid.UUID, db_session: DbSession, actor: CurrentActor
) -> ExportRead:
    """An export job: only its requester (and admins) see it; anyone else gets 404."""
    return service.to_read(await service.get_export(db_session, export_id, actor))


_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The whole file, with `Content-Length`, `ETag`, `Repr-Digest` (SHA-256)",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            formats.MEDIA_TYPES[ExportFormat.xlsx]: {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    },
    206: {
        "description": "The one range asked for (`Content-Range`), to resume a download",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
}


async def _stream(
    sessionmaker: async_sessionmaker[AsyncSession],
    export_id: uuid.UUID,
    chunk_bytes: int,
    first: int,
    last: int,
) -> AsyncIterator[bytes]:
    async with transaction(sessionmaker) as db_session:
        async for piece in repository.slices(db_session, export_id, chunk_bytes, first, last):
            yield piece


@router.get(
    "/{export_id}/file",
    operation_id="getExportFile",
    response_class=StreamingResponse,
    responses={
        **_FILE_RESPONSES,
        **problems(
            ExportNotFound, ExportNotReady, ExportFailed, ExportExpired, RangeNotSatisfiable
        ),
    },
)
async def get_export_file(
    export_id: uuid.UUID,
    request: Request,
    db_session: DbSession,
    actor: CurrentActor,
    range: Annotated[
        str | None,
        Header(max_length=200, description="One range, `bytes=first-last`, to resume"),
    ] = None,
    if_range: Annotated[
        str | None,
        Header(max_length=200, description="The `ETag` of the part already downloaded"),
    ] = None,
) -> StreamingResponse:
    """The finished file. `Content-Length` and `Repr-Digest: sha-256=:…:` (RFC 9530, of the
    whole file) let a client check what it got; the `ETag` is the SHA-256 too. An interrupted
    download resumes with `Range: bytes=<received>-` and `If-Range: <ETag>`: 206 with
    `Content-Range`; 416 when the range is past the end. 409 while the job runs or when it
    failed, 410 once it expired."""
    job = await service.finished_file(db_session, export_id, actor)
    size, sha256, chunk_bytes = job.size_bytes or 0, job.sha256 or "", job.chunk_bytes or 1
    etag = rules.etag_of(sha256)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Repr-Digest": rules.repr_digest(sha256),
        "Content-Disposition": formats.content_disposition(job.filename),
    }
    try:
        wanted = rules.byte_range(range, size) if rules.if_range_holds(if_range, etag) else None
    except rules.Unsatisfiable as exc:
        raise RangeNotSatisfiable(
            f"The file has {size} bytes.", headers={"Content-Range": f"bytes */{size}"}
        ) from exc
    first, last = wanted or (0, size - 1)
    headers["Content-Length"] = str(last - first + 1)
    if wanted is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    body = _stream(request.app.state.sessionmaker, job.id, chunk_bytes, first, last)
    return StreamingResponse(
        body if size else _empty(),
        status_code=206 if wanted is not None else 200,
        media_type=formats.MEDIA_TYPES[ExportFormat(job.format.value)],
        headers=headers,
    )


async def _empty() -> AsyncIterator[bytes]:
    yield b""
