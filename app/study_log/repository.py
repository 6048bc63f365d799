"""Every query of the study-log domain; scope is the cadre repository's statement. Bulk writes
for the import are in `bulk.py`."""

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import Row, Select, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import repository as cadres
from app.db import any_of
from app.enums import StudyLogKind, StudyLogStatus
from app.org_unit.models import OrgUnit
from app.study_log.models import StudyLog


async def get(
    db_session: AsyncSession,
    study_log_id: uuid.UUID,
    actor: Actor | None = None,
    *,
    refresh: bool = False,
) -> StudyLog | None:
    """The log, if it exists and (given an actor) belongs to a cadre the actor may see.
    `refresh` reloads a log already in the session from the database."""
    if actor is None:
        return await db_session.get(StudyLog, study_log_id, populate_existing=refresh)
    stmt = select(StudyLog).where(
        StudyLog.id == study_log_id, cadres.of_readable_cadre(StudyLog.cadre_id, actor)
    )
    return (await db_session.scalars(stmt)).one_or_none()


async def insert_unless_taken(db_session: AsyncSession, log: StudyLog) -> bool:
    """Insert the (not added) log under its id; False when the id is taken. A concurrent twin
    waits for the first to commit, then loses quietly (ON CONFLICT DO NOTHING)."""
    values = {
        c.key: getattr(log, c.key)
        for c in StudyLog.__table__.columns
        if getattr(log, c.key) is not None
    }
    inserted = await db_session.scalar(
        pg_insert(StudyLog)
        .values(**values, version=1)
        .on_conflict_do_nothing()
        .returning(StudyLog.id)
    )
    return inserted is not None


def list_query(
    actor: Actor,
    *,
    cadre_id: uuid.UUID | None,
    within: OrgUnit | None,
    kind: StudyLogKind | None,
    status: StudyLogStatus | None,
    year: int | None,
) -> Select[StudyLog]:
    stmt = select(StudyLog).where(cadres.of_readable_cadre(StudyLog.cadre_id, actor))
    if cadre_id is not None:
        stmt = stmt.where(StudyLog.cadre_id == cadre_id)
    if within is not None:
        stmt = stmt.where(StudyLog.cadre_id.in_(cadres.ids_in_subtree(within.path)))
    if kind is not None:
        stmt = stmt.where(StudyLog.kind == kind)
    if status is not None:
        stmt = stmt.where(StudyLog.status == status)
    if year is not None:
        # Logs that overlap the calendar year (a log across New Year belongs to both).
        stmt = stmt.where(
            StudyLog.start_date <= date(year, 12, 31),
            StudyLog.end_date >= date(year, 1, 1),
        )
    return stmt


async def of_cadre(db_session: AsyncSession, cadre_id: uuid.UUID) -> list[StudyLog]:
    """Every log of the cadre, by date (the archive)."""
    stmt = (
        select(StudyLog)
        .where(StudyLog.cadre_id == cadre_id)
        .order_by(StudyLog.start_date, StudyLog.id)
    )
    return list((await db_session.scalars(stmt)).all())


EngineRow = Row[uuid.UUID, StudyLogKind, date, date, Decimal, Decimal, StudyLogStatus]


async def engine_rows(
    db_session: AsyncSession, cadre_id: uuid.UUID, *, ending_from: date
) -> Sequence[EngineRow]:
    """(id, kind, start_date, end_date, hours, days, status) of every log of the cadre that ends
    on or after `ending_from`, whatever its status."""
    # Only the columns the engine reads, as plain rows: no ORM identity map on a hot path.
    rows = await db_session.execute(
        select(
            StudyLog.id,
            StudyLog.kind,
            StudyLog.start_date,
            StudyLog.end_date,
            StudyLog.hours,
            StudyLog.days,
            StudyLog.status,
        ).where(StudyLog.cadre_id == cadre_id, StudyLog.end_date >= ending_from)
    )
    return rows.all()


async def figure_rows(
    db_session: AsyncSession,
    cadre_id: uuid.UUID,
    *,
    ending_from: date,
    window_from: date,
    window_kinds: Sequence[StudyLogKind],
) -> Sequence[EngineRow]:
    """`engine_rows` narrowed to what one day's compliance figures read: every log ending on or
    after `ending_from` (the calendar year's logs) and, from `window_from` on, only the logs of
    `window_kinds` (the five-year window counts the centralised kinds alone). One range of the
    covering index `ix_study_log_cadre_id_end_date`, filtered inside the scan."""
    rows = await db_session.execute(
        select(
            StudyLog.id,
            StudyLog.kind,
            StudyLog.start_date,
            StudyLog.end_date,
            StudyLog.hours,
            StudyLog.days,
            StudyLog.status,
        ).where(
            StudyLog.cadre_id == cadre_id,
            StudyLog.end_date >= min(ending_from, window_from),
            (StudyLog.end_date >= ending_from) | any_of(StudyLog.kind, list(window_kinds)),
        )
    )
    return rows.all()


async def existing_ids(db_session: AsyncSession, ids: list[str]) -> list[uuid.UUID]:
    """Which of these log ids exist (one array parameter, whatever their number)."""
    stmt = select(StudyLog.id).where(any_of(StudyLog.id, [uuid.UUID(i) for i in ids]))
    return list(await db_session.scalars(stmt))
