"""Every query of the export domain: the jobs a user may see, the worker's claim and lease, and
the file's chunks."""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.enums import Role
from app.export.models import ExportChunk, ExportJob, ExportStatus
from app.pagination import PageParams, paginate

_JOB = cast(Table, ExportJob.__table__)
_CHUNK = cast(Table, ExportChunk.__table__)
_OPEN = (ExportStatus.queued, ExportStatus.running)


def visible(actor: Actor) -> ColumnElement[bool]:
    """A job is its requester's; an admin sees every job."""
    if actor.role == Role.admin:
        return true()
    return ExportJob.requested_by == actor.user_id


async def get(db_session: AsyncSession, export_id: uuid.UUID, actor: Actor) -> ExportJob | None:
    stmt = select(ExportJob).where(ExportJob.id == export_id, visible(actor))
    return (await db_session.scalars(stmt)).one_or_none()


async def get_for_worker(db_session: AsyncSession, export_id: uuid.UUID) -> ExportJob | None:
    return await db_session.get(ExportJob, export_id, populate_existing=True)


async def own_page(
    db_session: AsyncSession, actor: Actor, params: PageParams
) -> tuple[list[ExportJob], str | None]:
    stmt = select(ExportJob).where(ExportJob.requested_by == actor.user_id)
    return await paginate(db_session, stmt, ExportJob.id, params, newest_first=True)


async def active_count(db_session: AsyncSession, user_id: uuid.UUID) -> int:
    """The user's queued and running jobs. Takes the user's advisory transaction lock first:
    two requests of one user count and insert one after the other, so the limit holds under
    races (the second one counts the first's job once that commits)."""
    key = func.hashtextextended("export_job.active:" + str(user_id), 0)
    await db_session.execute(select(func.pg_advisory_xact_lock(key)))
    stmt = select(func.count()).where(
        ExportJob.requested_by == user_id, ExportJob.status.in_(_OPEN)
    )
    return int(await db_session.scalar(stmt) or 0)


# --- the worker --------------------------------------------------------------------------------


async def fail_exhausted(db_session: AsyncSession, now: datetime, max_attempts: int) -> int:
    """Jobs whose last worker's lease ran out after `max_attempts` workers took them."""
    result = await db_session.execute(
        update(_JOB)
        .where(
            _JOB.c.status == ExportStatus.running,
            _JOB.c.lease_expires_at < now,
            _JOB.c.attempts >= max_attempts,
        )
        .values(
            status=ExportStatus.failed,
            error_code="export.attempts_exhausted",
            lease_token=None,
            lease_expires_at=None,
            finished_at=now,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def claim(
    db_session: AsyncSession, now: datetime, lease_until: datetime, token: uuid.UUID
) -> Any:
    """Take the oldest queued job, or a running one whose lease ran out (its worker died):
    `FOR UPDATE SKIP LOCKED`, so two workers never take the same job."""
    due = (
        select(_JOB.c.id)
        .where(
            or_(
                _JOB.c.status == ExportStatus.queued,
                (_JOB.c.status == ExportStatus.running) & (_JOB.c.lease_expires_at < now),
            ),
            _JOB.c.expires_at > now,
        )
        .order_by(_JOB.c.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(_JOB)
        .where(_JOB.c.id == due.scalar_subquery())
        .values(
            status=ExportStatus.running,
            lease_token=token,
            lease_expires_at=lease_until,
            attempts=_JOB.c.attempts + 1,
            rows_done=0,
            started_at=now,
        )
        .returning(_JOB.c.id, _JOB.c.attempts)
    )
    return (await db_session.execute(stmt)).one_or_none()


def _held(export_id: uuid.UUID, token: uuid.UUID) -> ColumnElement[bool]:
    return (_JOB.c.id == export_id) & (_JOB.c.lease_token == token)


async def renew(
    db_session: AsyncSession, export_id: uuid.UUID, token: uuid.UUID, **values: Any
) -> bool:
    """Update the held job (its lease, its progress); False when this worker lost the lease."""
    stmt = update(_JOB).where(_held(export_id, token)).values(**values).returning(_JOB.c.id)
    return (await db_session.execute(stmt)).first() is not None


async def report(
    db_session: AsyncSession,
    export_id: uuid.UUID,
    token: uuid.UUID,
    lease_until: datetime,
    rows_done: int,
) -> bool:
    """Renew the lease and report progress. The heartbeat and the writer report concurrently:
    the count never goes back."""
    return await renew(
        db_session,
        export_id,
        token,
        lease_expires_at=lease_until,
        rows_done=func.greatest(_JOB.c.rows_done, rows_done),
    )


async def hand_back(db_session: AsyncSession, export_id: uuid.UUID, token: uuid.UUID) -> bool:
    """Back to the queue, as it was before this worker took it: another one starts it anew.
    A job handed back (a worker stopping) is not a failed attempt."""
    if not await renew(
        db_session,
        export_id,
        token,
        status=ExportStatus.queued,
        lease_token=None,
        lease_expires_at=None,
        rows_done=0,
        started_at=None,
        attempts=_JOB.c.attempts - 1,
    ):
        return False
    await delete_chunks(db_session, export_id)
    return True


async def delete_chunks(db_session: AsyncSession, export_id: uuid.UUID) -> None:
    await db_session.execute(delete(_CHUNK).where(_CHUNK.c.export_job_id == export_id))


async def add_chunk(db_session: AsyncSession, export_id: uuid.UUID, seq: int, data: bytes) -> None:
    await db_session.execute(_CHUNK.insert().values(export_job_id=export_id, seq=seq, data=data))


async def expire(db_session: AsyncSession, now: datetime) -> int:
    """Jobs past their time: status expired, file deleted."""
    ids = list(
        await db_session.scalars(
            update(_JOB)
            .where(_JOB.c.expires_at <= now, _JOB.c.status != ExportStatus.expired)
            .values(status=ExportStatus.expired, lease_token=None, lease_expires_at=None)
            .returning(_JOB.c.id)
        )
    )
    if ids:
        await db_session.execute(delete(_CHUNK).where(_CHUNK.c.export_job_id.in_(ids)))
    return len(ids)


async def purge(db_session: AsyncSession, expired_before: datetime) -> int:
    """Delete the jobs that expired before `expired_before` (their chunks go with them: the
    foreign key cascades). Until then an expired job answers `expired` and 410, after it 404."""
    result = await db_session.execute(delete(_JOB).where(_JOB.c.expires_at < expired_before))
    return int(getattr(result, "rowcount", 0) or 0)


# --- serving the file --------------------------------------------------------------------------


async def slices(
    db_session: AsyncSession, export_id: uuid.UUID, chunk_bytes: int, first: int, last: int
) -> AsyncIterator[bytes]:
    """Bytes `first`..`last` (inclusive) of the file, a chunk at a time, cut in the database
    so only what is sent is read."""
    for seq in range(first // chunk_bytes, last // chunk_bytes + 1):
        start = max(first - seq * chunk_bytes, 0)
        end = min(last - seq * chunk_bytes, chunk_bytes - 1)
        data = await db_session.scalar(
            select(func.substring(_CHUNK.c.data, start + 1, end - start + 1)).where(
                _CHUNK.c.export_job_id == export_id, _CHUNK.c.seq == seq
            )
        )
        if data is None:
            raise LookupError(f"chunk {seq} of export {export_id} is missing")
        yield bytes(data)
