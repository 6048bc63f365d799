import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.actor import Actor
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
from app.export.models import ExportJob
from app.export.schemas import ExportCreate, ExportRead
from app.http import API_PREFIX, ETAG_DECLARED, AppSettings, PrimedStreamingResponse, problems
from app.i18n import _
from app.idempotency.route import IdempotentRoute
from app.org_unit.errors import OrgUnitNotFound
from app.pagination import Page, PageQuery
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}/exports", tags=["exports"], route_class=IdempotentRoute)


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
    download `file_url`. Jobs and files expire after `APP_EXPORTS__RETENTION_HOURS`. Takes
    `Idempotency-Key`: a retry with the same key gets the first answer, not a second job."""
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


def _file_content() -> dict[str, Any]:
    return {
        "text/csv": {"schema": {"type": "string"}},
        formats.MEDIA_TYPES[ExportFormat.xlsx]: {"schema": {"type": "string", "format": "binary"}},
    }


_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The whole file, with `Content-Length`, `ETag`, `Repr-Digest` (SHA-256)",
        "content": _file_content(),
        **ETAG_DECLARED,
    },
    206: {
        "description": "The one range asked for (`Content-Range`), to resume a download; "
        "the file's own content type",
        "content": _file_content(),
        **ETAG_DECLARED,
    },
}

# Range / If-Range: any value up to a header line's usual limit is read, and one this server
# does not serve (several ranges, another unit, another tag) gets the whole file, never a 422
# (RFC 9110 §14.2). Only a value past this bound is refused, as any over-long input is.
_MAX_HEADER = 8192


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


@dataclass(frozen=True)
class _Answer:
    job: ExportJob
    headers: dict[str, str]
    first: int
    last: int
    partial: bool


async def _answer(
    db_session: AsyncSession,
    export_id: uuid.UUID,
    actor: Actor,
    range_header: str | None,
    if_range: str | None,
) -> _Answer:
    """What a GET of the file answers (a HEAD the same, without the body)."""
    job = await service.finished_file(db_session, export_id, actor)
    size, sha256 = job.size_bytes or 0, job.sha256 or ""
    etag = rules.etag_of(sha256)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Repr-Digest": rules.repr_digest(sha256),
        "Content-Disposition": formats.content_disposition(job.filename),
        # The file's words are in the job's `lang`, whatever Accept-Language says (app.i18n).
        "Content-Language": job.lang.value,
    }
    try:
        wanted = (
            rules.byte_range(range_header, size) if rules.if_range_holds(if_range, etag) else None
        )
    except rules.Unsatisfiable as exc:
        raise RangeNotSatisfiable(
            _("The file has {size} bytes.").format(size=size),
            headers={"Content-Range": f"bytes */{size}"},
        ) from exc
    first, last = wanted or (0, size - 1)
    headers["Content-Length"] = str(last - first + 1)
    if wanted is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return _Answer(job, headers, first, last, wanted is not None)


RangeHeader = Annotated[
    str | None,
    Header(
        max_length=_MAX_HEADER,
        description="One range, `bytes=first-last`, to resume; a value it does not serve "
        "(another unit, several ranges) gets the whole file",
    ),
]
IfRangeHeader = Annotated[
    str | None,
    Header(max_length=_MAX_HEADER, description="The `ETag` of the part already downloaded"),
]


@router.get(
    "/{export_id}/file",
    operation_id="getExportFile",
    response_class=PrimedStreamingResponse,
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
    range: RangeHeader = None,
    if_range: IfRangeHeader = None,
) -> StreamingResponse:
    """The finished file. `Content-Length` and `Repr-Digest: sha-256=:…:` (RFC 9530, of the
    whole file) let a client check what it got; the `ETag` is the SHA-256 too. An interrupted
    download resumes with `Range: bytes=<received>-` and `If-Range: <ETag>`: 206 with
    `Content-Range`; 416 when the range is past the end. 409 while the job runs or when it
    failed, 410 once it expired. `HEAD` answers the same headers without the body. The file's
    first piece is read before the status line is sent: a database fault then is a 503 to
    retry, never a 200 with a missing body."""
    answer = await _answer(db_session, export_id, actor, range, if_range)
    job = answer.job
    body = _stream(
        request.app.state.sessionmaker, job.id, job.chunk_bytes or 1, answer.first, answer.last
    )
    return PrimedStreamingResponse(
        body if job.size_bytes else _empty(),
        status_code=206 if answer.partial else 200,
        media_type=formats.MEDIA_TYPES[ExportFormat(job.format.value)],
        headers=answer.headers,
    )


# The same operation (and the same rights) as the GET, without the body.
@router.head("/{export_id}/file", operation_id="getExportFile", include_in_schema=False)
async def head_export_file(
    export_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    range: RangeHeader = None,
    if_range: IfRangeHeader = None,
) -> Response:
    answer = await _answer(db_session, export_id, actor, range, if_range)
    return Response(
        status_code=206 if answer.partial else 200,
        media_type=formats.MEDIA_TYPES[ExportFormat(answer.job.format.value)],
        headers=answer.headers,
    )


async def _empty() -> AsyncIterator[bytes]:
    yield b""
