"""The export worker: `python -m app.cli export-worker`.

A worker takes one job at a time (`FOR UPDATE SKIP LOCKED`: two workers never take the same
one) under a short lease, renewed by a heartbeat while the job runs: a worker that dies is
replaced as soon as its lease runs out (`APP_EXPORTS__LEASE_SECONDS`), and the next one starts
the job anew. On SIGTERM or SIGINT the job under way is stopped and handed back (queued again,
lease cleared, its partial file deleted) within a few seconds, even while a thread saves an
XLSX: the save runs in a daemon thread the process does not wait for (app.archive.unit_export).

The job runs with its requester's rights as they are when it runs: a requester deactivated, or
no longer over the unit, gets a failed job. The rows are read in one read-only repeatable-read
transaction (the row count and the rows agree) with the export's own statement timeout; the file
is written in chunks into PostgreSQL with its SHA-256, and its progress as it goes.
"""

import asyncio
import contextlib
import hashlib
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.archive import service as archive_service
from app.archive import unit_export
from app.config import ExportSettings, Settings
from app.db import attribute, create_engine, create_sessionmaker, replica_lag, transaction
from app.errors import AppError, DatabaseConnectError
from app.export import repository
from app.export.models import ExportStatus
from app.observability import configure_logging
from app.org_unit import repository as org_units
from app.user import repository as users

log = structlog.get_logger(__name__)

WORKER_REQUEST_ID = "export-worker"
_QUERY_CANCELED = "57014"
Progress = Callable[[int], Awaitable[None]]


class LeaseLost(Exception):
    """Another worker took the job over (this one was too slow to renew): stop, write nothing."""


class JobRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class _Job:
    id: uuid.UUID
    token: uuid.UUID
    rows_done: int = 0
    lost: bool = field(default=False)


def _sqlstate(exc: BaseException) -> str | None:
    current: BaseException | None = exc
    for _ in range(5):
        if current is None:
            return None
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(code, str):
            return code
        current = getattr(current, "orig", None) or current.__cause__
    return None


@contextlib.asynccontextmanager
async def writing(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A transaction of the worker's: the audit trail records its writes as `export-worker`."""
    async with transaction(sessionmaker) as db_session:
        await attribute(db_session, request_id=WORKER_REQUEST_ID)
        yield db_session


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession], settings: ExportSettings, now: datetime
) -> _Job | None:
    token = uuid.uuid4()
    async with writing(sessionmaker) as db_session:
        await repository.fail_exhausted(db_session, now, settings.max_attempts)
        row = await repository.claim(
            db_session, now, now + timedelta(seconds=settings.lease_seconds), token
        )
    return _Job(row.id, token) if row is not None else None


async def _renew(
    sessionmaker: async_sessionmaker[AsyncSession], job: _Job, settings: ExportSettings
) -> None:
    """Renew the lease, reporting the rows done so far; LeaseLost when another worker has it."""
    until = datetime.now(UTC) + timedelta(seconds=settings.lease_seconds)
    async with writing(sessionmaker) as db_session:
        held = await repository.report(db_session, job.id, job.token, until, job.rows_done)
    if not held:
        job.lost = True
        raise LeaseLost


async def _heartbeat(
    sessionmaker: async_sessionmaker[AsyncSession], job: _Job, settings: ExportSettings
) -> None:
    """Renew the lease (and report the rows so far) until cancelled."""
    while True:
        await asyncio.sleep(settings.heartbeat_seconds)
        try:
            await _renew(sessionmaker, job, settings)
        except LeaseLost:
            return
        except (OperationalError, InterfaceError, OSError) as exc:
            log.warning("export_heartbeat_failed", export_id=str(job.id), error=type(exc).__name__)


async def _plan(
    sessionmaker: async_sessionmaker[AsyncSession], job: _Job
) -> tuple[Any, archive_service.UnitExportPlan]:
    """The job and what it exports, checked with the requester's rights as they are now."""
    async with writing(sessionmaker) as db_session:
        row = await repository.get_for_worker(db_session, job.id)
        if row is None or row.lease_token != job.token:
            raise LeaseLost
        await repository.delete_chunks(db_session, job.id)  # a previous worker's part
        user = await users.by_id(db_session, row.requested_by)
        if user is None or not user.active:
            raise JobRefused("export.requester_inactive")
        actor = await users.actor_of(db_session, user)
        root = await org_units.get(db_session, row.org_unit_id, actor)
        if root is None:
            raise JobRefused("export.out_of_scope")
        try:
            plan = await archive_service.plan_unit_export(db_session, root, row.year)
        except AppError as exc:
            raise JobRefused(exc.code) from exc
    return row, plan


class _File:
    """The file as it is written: fixed-size chunks, each stored with the job's progress in
    one transaction that first checks the lease."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        job: _Job,
        settings: ExportSettings,
    ) -> None:
        self.sessionmaker, self.job, self.settings = sessionmaker, job, settings
        self.buffer = bytearray()
        self.seq = 0
        self.size = 0
        self.digest = hashlib.sha256()

    async def write(self, data: bytes) -> None:
        self.buffer += data
        self.size += len(data)
        self.digest.update(data)
        size = self.settings.chunk_bytes
        while len(self.buffer) >= size:
            await self._store(bytes(self.buffer[:size]))
            del self.buffer[:size]

    async def close(self) -> None:
        if self.buffer or self.seq == 0:
            await self._store(bytes(self.buffer))
            self.buffer.clear()

    async def _store(self, data: bytes) -> None:
        until = datetime.now(UTC) + timedelta(seconds=self.settings.lease_seconds)
        async with writing(self.sessionmaker) as db_session:
            if not await repository.report(
                db_session, self.job.id, self.job.token, until, self.job.rows_done
            ):
                self.job.lost = True
                raise LeaseLost
            await repository.add_chunk(db_session, self.job.id, self.seq, data)
        self.seq += 1


async def _counted(
    records: AsyncIterator[list[Any]],
    sessionmaker: async_sessionmaker[AsyncSession],
    job: _Job,
    settings: ExportSettings,
    progress: Progress | None,
) -> AsyncIterator[list[Any]]:
    async for record in records:
        yield record
        job.rows_done += 1
        if job.rows_done % settings.progress_rows == 0:
            await _renew(sessionmaker, job, settings)
            if progress is not None:
                await progress(job.rows_done)


_READING = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}


async def _reading_source(
    sessionmaker: async_sessionmaker[AsyncSession],
    reader: async_sessionmaker[AsyncSession] | None,
) -> async_sessionmaker[AsyncSession]:
    """Where the rows are read: the read replica (APP_DATABASE__REPLICA_URL) when there is one
    and it answers, else the primary (docs/scaling.md, "Read replica"). The probe is a
    statement, not a checkout: the pool is not pre-pinged, and a connection the replica ended
    must be found here, not by the export's first read. (The lag bound is the API's: an export
    job may read a lagging replica, its file dated by the job.)"""
    if reader is None:
        return sessionmaker
    try:
        async with reader() as probe:
            await replica_lag(probe)
    except (DatabaseConnectError, SQLAlchemyError, OSError) as exc:
        log.warning("replica_fallback", reason="unavailable", error=type(exc).__name__)
        return sessionmaker
    return reader


async def _export(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: _Job,
    settings: ExportSettings,
    progress: Progress | None,
    reader: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    row, plan = await _plan(sessionmaker, job)
    file = _File(sessionmaker, job, settings)
    async with transaction(await _reading_source(sessionmaker, reader)) as reading:
        await reading.connection(execution_options=_READING)
        await reading.execute(
            text("SELECT set_config('statement_timeout', :ms, true)"),
            {"ms": str(settings.statement_timeout_ms)},
        )
        total = await unit_export.row_count(
            reading, plan.root_path, plan.year, plan.as_of, plan.policy
        )
        async with writing(sessionmaker) as db_session:
            if not await repository.renew(db_session, job.id, job.token, rows_total=total):
                raise LeaseLost
        records = unit_export.rows(reading, plan.root_path, plan.year, plan.as_of, plan.policy)
        counted = _counted(records, sessionmaker, job, settings, progress)
        # In the job's language, as the direct route writes its `lang`.
        async for chunk in unit_export.encode(row.format, counted, plan.year, row.lang):
            await file.write(chunk)
    await file.close()
    now = datetime.now(UTC)
    async with writing(sessionmaker) as db_session:
        if not await repository.renew(
            db_session,
            job.id,
            job.token,
            status=ExportStatus.succeeded,
            rows_done=job.rows_done,
            size_bytes=file.size,
            sha256=file.digest.hexdigest(),
            chunk_bytes=settings.chunk_bytes,
            finished_at=now,
            expires_at=now + timedelta(hours=settings.retention_hours),
            lease_token=None,
            lease_expires_at=None,
        ):
            raise LeaseLost
    if progress is not None:
        await progress(job.rows_done)


async def _fail(sessionmaker: async_sessionmaker[AsyncSession], job: _Job, code: str) -> None:
    async with writing(sessionmaker) as db_session:
        if await repository.renew(
            db_session,
            job.id,
            job.token,
            status=ExportStatus.failed,
            error_code=code,
            finished_at=datetime.now(UTC),
            lease_token=None,
            lease_expires_at=None,
        ):
            await repository.delete_chunks(db_session, job.id)


async def hand_back(sessionmaker: async_sessionmaker[AsyncSession], job: _Job) -> bool:
    async with writing(sessionmaker) as db_session:
        return await repository.hand_back(db_session, job.id, job.token)


async def run_job(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: _Job,
    settings: ExportSettings,
    *,
    progress: Progress | None = None,
    reader: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    """Write the claimed job's file, renewing the lease meanwhile. `progress` is called after
    each progress report, with the rows done (tests watch the job through it). The rows are
    read on `reader` (the read replica) when given and reachable; everything else, on the
    primary."""
    beat = asyncio.create_task(_heartbeat(sessionmaker, job, settings))
    try:
        await _export(sessionmaker, job, settings, progress, reader)
        log.info("export_succeeded", export_id=str(job.id), rows=job.rows_done)
    except LeaseLost:
        job.lost = True
        log.warning("export_lease_lost", export_id=str(job.id))
    except JobRefused as exc:
        log.info("export_refused", export_id=str(job.id), code=exc.code)
        await _fail(sessionmaker, job, exc.code)
    except DBAPIError as exc:
        if _sqlstate(exc) != _QUERY_CANCELED and isinstance(exc, OperationalError | InterfaceError):
            raise  # the database is away: the lease runs out, and the job is taken again
        log.warning("export_failed", export_id=str(job.id), sqlstate=_sqlstate(exc))
        code = "query_timeout" if _sqlstate(exc) == _QUERY_CANCELED else "export.failed"
        await _fail(sessionmaker, job, code)
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat


async def work_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: ExportSettings,
    now: datetime | None = None,
    *,
    progress: Progress | None = None,
    reader: async_sessionmaker[AsyncSession] | None = None,
) -> uuid.UUID | None:
    """Take one job and run it; the job's id, or None when there was nothing to do."""
    job = await claim(sessionmaker, settings, now or datetime.now(UTC))
    if job is None:
        return None
    await run_job(sessionmaker, job, settings, progress=progress, reader=reader)
    return job.id


@dataclass(frozen=True)
class Pruned:
    expired: int
    purged: int


async def prune(
    sessionmaker: async_sessionmaker[AsyncSession], settings: ExportSettings, now: datetime
) -> Pruned:
    """Expire the jobs past their time (their files deleted), and delete the rows of the jobs
    expired for longer than `APP_EXPORTS__PURGE_AFTER_HOURS`, so the table does not grow
    without bound."""
    async with writing(sessionmaker) as db_session:
        expired = await repository.expire(db_session, now)
        purge_before = now - timedelta(hours=settings.purge_after_hours)
        return Pruned(expired, await repository.purge(db_session, purge_before))


PRUNE_EVERY_SECONDS = 60.0
# How long a stopping worker waits for its job to notice the cancellation.
STOP_GRACE_SECONDS = 3.0


async def _run_until_stopped(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: ExportSettings,
    stop: asyncio.Event,
    reader: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    next_prune = 0.0
    while not stop.is_set():
        job: _Job | None = None
        try:
            if time.monotonic() >= next_prune:
                pruned = await prune(sessionmaker, settings, datetime.now(UTC))
                log.info("exports_pruned", expired=pruned.expired, purged=pruned.purged)
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
            job = await claim(sessionmaker, settings, datetime.now(UTC))
            if job is not None:
                await _run_stoppable(sessionmaker, job, settings, stop, reader)
                continue
        except (OperationalError, InterfaceError, OSError) as exc:
            log.warning("export_worker_database_unavailable", error=type(exc).__name__)
        except Exception:
            log.exception("export_worker_pass_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.poll_interval_seconds)


async def _run_stoppable(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: _Job,
    settings: ExportSettings,
    stop: asyncio.Event,
    reader: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    """Run the job until it ends or the worker is told to stop: then it is cancelled and
    handed back, so another worker starts it at once instead of after the lease."""
    task = asyncio.create_task(run_job(sessionmaker, job, settings, reader=reader))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        task.result()
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(task, STOP_GRACE_SECONDS)
    handed = False
    with contextlib.suppress(Exception):
        handed = await asyncio.wait_for(hand_back(sessionmaker, job), STOP_GRACE_SECONDS)
    log.info("export_handed_back", export_id=str(job.id), handed_back=handed)


async def run(settings: Settings) -> None:
    """Run jobs until SIGINT or SIGTERM; the job under way is handed back."""
    configure_logging(settings.log_level, json=settings.log_json)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    replica = create_engine(settings, replica=True) if settings.async_replica_url else None
    reader = create_sessionmaker(replica) if replica is not None else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        log.info("export_worker_stopping")
        stop.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)  # a second signal ends the process at once

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    log.info("export_worker_started")
    try:
        await _run_until_stopped(sessionmaker, settings.exports, stop, reader)
    finally:
        await engine.dispose()
        if replica is not None:
            await replica.dispose()
        log.info("export_worker_stopped")
