"""Every query of the enrollment domain; scope is a statement built here."""

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import repository as cadres
from app.enrollment.models import Enrollment
from app.enums import ACTIVE_ENROLLMENT_STATUSES, SEAT_HOLDING_STATUSES, EnrollmentStatus
from app.training_session import repository as sessions
from app.training_session.models import TrainingSession


def visible(actor: Actor) -> ColumnElement[bool]:
    """An enrollment is visible to whoever sees its cadre, and to the session's organisers."""
    return or_(
        cadres.of_readable_cadre(Enrollment.cadre_id, actor),
        Enrollment.training_session_id.in_(sessions.managed_ids(actor)),
    )


async def get(
    db_session: AsyncSession, enrollment_id: uuid.UUID, actor: Actor
) -> Enrollment | None:
    stmt = select(Enrollment).where(Enrollment.id == enrollment_id, visible(actor))
    return (await db_session.scalars(stmt)).one_or_none()


async def id_of(
    db_session: AsyncSession, training_session_id: uuid.UUID, cadre_id: uuid.UUID
) -> uuid.UUID | None:
    """The cadre's enrollment in the session, whatever its status (not locked)."""
    return await db_session.scalar(
        select(Enrollment.id).where(
            Enrollment.training_session_id == training_session_id,
            Enrollment.cadre_id == cadre_id,
        )
    )


def of_session(
    training_session_id: uuid.UUID, actor: Actor, status: EnrollmentStatus | None
) -> Select[Enrollment]:
    stmt = select(Enrollment).where(
        Enrollment.training_session_id == training_session_id, visible(actor)
    )
    if status is not None:
        stmt = stmt.where(Enrollment.status == status)
    return stmt


async def active_for_update(
    db_session: AsyncSession, training_session_id: uuid.UUID
) -> Sequence[Enrollment]:
    """The enrolled and confirmed trainees of a session being closed, locked."""
    return (
        await db_session.scalars(
            select(Enrollment)
            .where(
                Enrollment.training_session_id == training_session_id,
                Enrollment.status.in_(ACTIVE_ENROLLMENT_STATUSES),
            )
            .order_by(Enrollment.id)
            .with_for_update()
        )
    ).all()


async def of_cadre_with_sessions(
    db_session: AsyncSession, cadre_id: uuid.UUID
) -> list[tuple[Enrollment, TrainingSession]]:
    """Every enrollment of the cadre with its session, by the session's start (the archive)."""
    rows = await db_session.execute(
        select(Enrollment, TrainingSession)
        .join(TrainingSession, TrainingSession.id == Enrollment.training_session_id)
        .where(Enrollment.cadre_id == cadre_id)
        .order_by(TrainingSession.start_date, Enrollment.id)
    )
    return [(e, s) for e, s in rows.all()]


async def seats_by_audience(
    db_session: AsyncSession, training_session_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    """Seats held per audience unit (docs/rules.md rule 11); read under the session's lock."""
    rows = await db_session.execute(
        select(Enrollment.audience_org_unit_id, func.count())
        .where(
            Enrollment.training_session_id == training_session_id,
            Enrollment.status.in_(SEAT_HOLDING_STATUSES),
            Enrollment.audience_org_unit_id.is_not(None),
        )
        .group_by(Enrollment.audience_org_unit_id)
    )
    return {unit_id: count for unit_id, count in rows.all() if unit_id is not None}


async def waitlisted_for_update(
    db_session: AsyncSession, training_session_id: uuid.UUID
) -> Sequence[Enrollment]:
    """The session's waitlist in order, locked."""
    return (
        await db_session.scalars(
            select(Enrollment)
            .where(
                Enrollment.training_session_id == training_session_id,
                Enrollment.status == EnrollmentStatus.waitlisted,
            )
            .order_by(Enrollment.waitlist_position)
            .with_for_update()
        )
    ).all()


async def last_waitlist_position(db_session: AsyncSession, training_session_id: uuid.UUID) -> int:
    found = await db_session.scalar(
        select(func.max(Enrollment.waitlist_position)).where(
            Enrollment.training_session_id == training_session_id
        )
    )
    return found or 0


async def get_for_update(db_session: AsyncSession, enrollment_id: uuid.UUID) -> Enrollment | None:
    return await db_session.get(Enrollment, enrollment_id, with_for_update=True)


async def of_cadre_in_session(
    db_session: AsyncSession, training_session_id: uuid.UUID, cadre_id: uuid.UUID
) -> Enrollment | None:
    """The cadre's enrollment in the session, whatever its status, locked."""
    return (
        await db_session.scalars(
            select(Enrollment)
            .where(
                Enrollment.training_session_id == training_session_id,
                Enrollment.cadre_id == cadre_id,
            )
            .with_for_update()
        )
    ).one_or_none()


async def unit_of_cadre(db_session: AsyncSession, cadre_id: uuid.UUID) -> uuid.UUID:
    """The org unit the cadre belongs to now."""
    cadre = await cadres.get(db_session, cadre_id)
    assert cadre is not None  # FK
    return cadre.org_unit_id
