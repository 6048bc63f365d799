"""Every query of the calendar domain: the sessions a calendar shows, and the feeds."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, false, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre.models import Cadre
from app.calendar.ics import PartFacts, SessionFacts
from app.calendar.models import CalendarFeed
from app.catalogue.models import Course, Teacher
from app.db import any_of
from app.enrollment.models import Enrollment
from app.enums import CadreStatus, EnrollmentStatus, Role
from app.ids import new_id
from app.org_unit.models import OrgUnit
from app.training_session import repository as sessions
from app.training_session.models import SessionPart, TrainingSession
from app.user.models import User

# The enrollments whose sessions a cadre's feed shows: a place held, or the class done.
FEED_STATUSES = (EnrollmentStatus.enrolled, EnrollmentStatus.confirmed, EnrollmentStatus.completed)


def _trainee(actor: Actor) -> ColumnElement[bool]:
    """A cadre sees the sessions it is a trainee of, whatever their audience says now: a place
    held or the class done (FEED_STATUSES, as its feed); not a rejected, withdrawn, waitlisted
    or merely nominated place."""
    if actor.role != Role.cadre or actor.cadre_id is None:
        return false()
    return TrainingSession.id.in_(
        select(Enrollment.training_session_id).where(
            Enrollment.cadre_id == actor.cadre_id, Enrollment.status.in_(FEED_STATUSES)
        )
    )


async def readable_session_id(
    db_session: AsyncSession, training_session_id: uuid.UUID, actor: Actor
) -> uuid.UUID | None:
    """The session, if the actor may read it (it is visible to the actor) or is its trainee."""
    return await db_session.scalar(
        select(TrainingSession.id).where(
            TrainingSession.id == training_session_id,
            or_(sessions.visible(actor), _trainee(actor)),
        )
    )


async def session_ids_of_cadre(
    db_session: AsyncSession, cadre_id: uuid.UUID, first_day: date, last_day: date
) -> list[uuid.UUID]:
    """The sessions of the cadre's feed that meet [first_day, last_day]."""
    rows = await db_session.scalars(
        select(TrainingSession.id)
        .join(Enrollment, Enrollment.training_session_id == TrainingSession.id)
        .where(
            Enrollment.cadre_id == cadre_id,
            Enrollment.status.in_(FEED_STATUSES),
            TrainingSession.end_date >= first_day,
            TrainingSession.start_date <= last_day,
        )
    )
    return list(rows)


async def _parts(
    db_session: AsyncSession, session_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[PartFacts]]:
    rows = await db_session.execute(
        select(SessionPart, Course.title, Teacher.name)
        .outerjoin(Course, Course.id == SessionPart.course_id)
        .outerjoin(Teacher, Teacher.id == SessionPart.teacher_id)
        .where(any_of(SessionPart.training_session_id, session_ids))
        .order_by(SessionPart.part_date, SessionPart.start_time, SessionPart.id)
    )
    out: dict[uuid.UUID, list[PartFacts]] = defaultdict(list)
    for part, course_title, teacher_name in rows:
        out[part.training_session_id].append(
            PartFacts(
                id=part.id,
                part_date=part.part_date,
                period=part.period,
                start_time=part.start_time,
                end_time=part.end_time,
                credit_hours=part.credit_hours,
                course_title=course_title,
                teacher_name=teacher_name,
            )
        )
    return out


async def facts(db_session: AsyncSession, session_ids: Sequence[uuid.UUID]) -> list[SessionFacts]:
    """The sessions with their parts, by start date (then id: a stable order, a stable file)."""
    if not session_ids:
        return []
    rows = await db_session.execute(
        select(TrainingSession, OrgUnit.name)
        .join(OrgUnit, OrgUnit.id == TrainingSession.organiser_org_unit_id)
        .where(any_of(TrainingSession.id, session_ids))
        .order_by(TrainingSession.start_date, TrainingSession.id)
    )
    parts = await _parts(db_session, session_ids)
    return [
        SessionFacts(
            id=ts.id,
            title=ts.title,
            status=ts.status,
            version=ts.version,
            updated_at=ts.updated_at,
            start_date=ts.start_date,
            end_date=ts.end_date,
            credit_hours=ts.credit_hours,
            provider=ts.provider,
            organiser_name=organiser_name,
            parts=tuple(parts.get(ts.id, ())),
        )
        for ts, organiser_name in rows
    ]


async def feed_of(
    db_session: AsyncSession, cadre_id: uuid.UUID, *, for_update: bool = False
) -> CalendarFeed | None:
    stmt = select(CalendarFeed).where(CalendarFeed.cadre_id == cadre_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


async def feed_by_hash(db_session: AsyncSession, token_hash: str) -> CalendarFeed | None:
    """The feed with this hash, if it still speaks for someone: its cadre is active and an
    active user of role cadre stands for it, at the token version the feed was issued under. A
    deactivated user, a cadre gone inactive or a user whose sign-ins were all ended makes the
    address answer as an unknown one (docs/calendars.md)."""
    holder = (
        select(User.id)
        .where(
            User.cadre_id == CalendarFeed.cadre_id,
            User.role == Role.cadre,
            User.active.is_(True),
            User.token_version == CalendarFeed.token_version,
        )
        .exists()
    )
    return (
        await db_session.scalars(
            select(CalendarFeed)
            .join(Cadre, Cadre.id == CalendarFeed.cadre_id)
            .where(
                CalendarFeed.token_hash == token_hash,
                Cadre.status == CadreStatus.active,
                holder,
            )
        )
    ).one_or_none()


async def mark_used(db_session: AsyncSession, feed_id: uuid.UUID) -> None:
    """Bookkeeping (skipped by the audit trail): a fetch leaves no trace but this time."""
    await db_session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.id == feed_id)
        .values(last_used_at=func.now())
        .execution_options(synchronize_session=False)
    )


async def upsert_feed(
    db_session: AsyncSession, cadre_id: uuid.UUID, token_hash: str, now: datetime
) -> None:
    """The cadre's feed with this token hash: created, or its token replaced. One statement,
    so two requests at once leave one feed (the later token wins)."""
    # The cadre's user's token version now (one user per cadre: uq_app_user_cadre_id).
    version = select(User.token_version).where(User.cadre_id == cadre_id).scalar_subquery()
    await db_session.execute(
        insert(CalendarFeed)
        .values(
            id=new_id(),
            cadre_id=cadre_id,
            token_hash=token_hash,
            issued_at=now,
            token_version=func.coalesce(version, 0),
        )
        .on_conflict_do_update(
            index_elements=[CalendarFeed.cadre_id],
            set_={
                "token_hash": token_hash,
                "issued_at": now,
                "token_version": func.coalesce(version, 0),
                "updated_at": func.now(),
            },
        )
    )


async def delete_feed(db_session: AsyncSession, feed: CalendarFeed) -> None:
    await db_session.delete(feed)
    await db_session.flush()
