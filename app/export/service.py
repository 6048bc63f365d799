"""Export jobs: asking for one, seeing it, and the file it made. The worker is worker.py."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.archive import service as archive_service
from app.clock import local_today
from app.config import ExportSettings
from app.export import repository
from app.export.errors import (
    ExportExpired,
    ExportFailed,
    ExportNotFound,
    ExportNotReady,
    TooManyExports,
)
from app.export.models import ExportJob, ExportStatus
from app.export.schemas import ExportCreate, ExportRead
from app.http import API_PREFIX
from app.i18n import N_, _
from app.org_unit import service as org_unit_service
from app.org_unit.errors import OrgUnitNotFound
from app.pagination import PageParams


def _now() -> datetime:
    return datetime.now(UTC)


def status_of(job: ExportJob, now: datetime) -> ExportStatus:
    """A job past its time is expired, whether or not the worker has pruned it yet."""
    return ExportStatus.expired if job.expires_at <= now else job.status


def to_read(job: ExportJob, now: datetime | None = None) -> ExportRead:
    status = status_of(job, now or _now())
    done = status is ExportStatus.succeeded
    return ExportRead(
        id=job.id,
        status=status,
        org_unit_id=job.org_unit_id,
        year=job.year,
        format=job.format,
        lang=job.lang,
        filename=job.filename,
        rows_done=job.rows_done,
        rows_total=job.rows_total,
        size_bytes=job.size_bytes if done else None,
        sha256=job.sha256 if done else None,
        error_code=job.error_code,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        expires_at=job.expires_at,
        file_url=f"{API_PREFIX}/exports/{job.id}/file" if done else None,
    )


async def create_export(
    db_session: AsyncSession, body: ExportCreate, actor: Actor, settings: ExportSettings
) -> ExportJob:
    """The same checks as the direct unit archive, now: the unit is the actor's to read (else
    404), the year has begun, a policy was in force (so a job that is queued can run)."""
    root = await org_unit_service.get_org_unit(db_session, body.org_unit_id, actor)
    year = body.year or local_today().year
    await archive_service.plan_unit_export(db_session, root, year)
    if await repository.active_count(db_session, actor.user_id) >= settings.max_active_per_user:
        raise TooManyExports(
            _("At most {limit} jobs may be queued or running at once.").format(
                limit=settings.max_active_per_user
            )
        )
    job = ExportJob(
        requested_by=actor.user_id,
        org_unit_id=root.id,
        year=year,
        format=body.format,
        lang=body.lang,
        status=ExportStatus.queued,
        filename=f"培训档案-{root.name}-{year}.{body.format.value}",
        rows_done=0,
        attempts=0,
        expires_at=_now() + timedelta(hours=settings.retention_hours),
    )
    db_session.add(job)
    await db_session.flush()
    await db_session.refresh(job)
    return job


async def get_export(db_session: AsyncSession, export_id: uuid.UUID, actor: Actor) -> ExportJob:
    job = await repository.get(db_session, export_id, actor)
    if job is None:
        raise ExportNotFound()
    return job


async def list_exports(
    db_session: AsyncSession, actor: Actor, params: PageParams
) -> tuple[list[ExportJob], str | None]:
    return await repository.own_page(db_session, actor, params)


async def finished_file(db_session: AsyncSession, export_id: uuid.UUID, actor: Actor) -> ExportJob:
    """The job whose file may be downloaded. The unit must still be the actor's to read: a
    user who lost the rights since does not get the file (404, as for any unit out of scope)."""
    job = await get_export(db_session, export_id, actor)
    status = status_of(job, _now())
    if status is ExportStatus.expired:
        raise ExportExpired()
    if status is ExportStatus.failed:
        raise ExportFailed(_("The job failed: {code}.").format(code=job.error_code))
    if status is not ExportStatus.succeeded:
        raise ExportNotReady(N_("Poll the job until its status is succeeded."))
    try:
        await org_unit_service.get_org_unit(db_session, job.org_unit_id, actor)
    except OrgUnitNotFound as exc:
        raise ExportNotFound() from exc
    return job
