import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, Select, case, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from app.actor import Actor
from app.enums import DayPeriod, OrgUnitKind, Role, SessionStatus, TrainingForm
from app.org_unit.models import OrgUnit
from app.org_unit.tree import path_ids, subtree_ids
from app.training_session.models import SessionAudience, SessionPart, TrainingSession


async def get(
    db_session: AsyncSession,
    training_session_id: uuid.UUID,
    actor: Actor | None = None,
    *,
    for_update: bool = False,
) -> TrainingSession | None:
    """The session, if it exists and (given an actor) is visible to the actor."""
    stmt = select(TrainingSession).where(TrainingSession.id == training_session_id)
    if actor is not None:
        stmt = stmt.where(visible(actor))
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


def list_query(
    actor: Actor,
    *,
    organiser: OrgUnit | None,
    status: SessionStatus | None,
    form: TrainingForm | None,
    centralised: bool | None,
    starts_from: date | None,
    starts_to: date | None,
) -> Select[TrainingSession]:
    stmt = select(TrainingSession).where(visible(actor))
    if organiser is not None:
        stmt = stmt.where(TrainingSession.organiser_org_unit_id.in_(subtree_ids(organiser.path)))
    if status is not None:
        stmt = stmt.where(TrainingSession.status == status)
    if form is not None:
        stmt = stmt.where(TrainingSession.form == form)
    if centralised is not None:
        stmt = stmt.where(TrainingSession.centralised == centralised)
    if starts_from is not None:
        stmt = stmt.where(TrainingSession.start_date >= starts_from)
    if starts_to is not None:
        stmt = stmt.where(TrainingSession.start_date <= starts_to)
    return stmt


async def is_managed(
    db_session: AsyncSession, training_session_id: uuid.UUID, actor: Actor
) -> bool:
    """Organised inside the actor's tree (visible is not enough to change a session)."""
    found = await db_session.scalar(
        select(TrainingSession.id).where(
            TrainingSession.id == training_session_id,
            managed_organiser(TrainingSession.organiser_org_unit_id, actor),
        )
    )
    return found is not None


def managed_ids(actor: Actor) -> Select[uuid.UUID]:
    return select(TrainingSession.id).where(
        managed_organiser(TrainingSession.organiser_org_unit_id, actor)
    )


def visible(actor: Actor) -> ColumnElement[bool]:
    """docs/rules.md rule 11: a session is visible to those it is for. A cadre sees the sessions
    whose audience holds its unit or a unit above it; an org_admin those it organises (its
    subtree), and those whose audience reaches its unit: an audience unit above it or inside its
    subtree (a city class for the whole city is visible to a county's administrator, though the
    organising department is the county's sibling)."""
    if actor.whole_tree:
        return true()
    if actor.org_path is None:
        return false()
    above = SessionAudience.org_unit_id.in_(path_ids(actor.org_path))
    if actor.role == Role.cadre:
        return TrainingSession.id.in_(select(SessionAudience.training_session_id).where(above))
    reaching = or_(above, SessionAudience.org_unit_id.in_(subtree_ids(actor.org_path)))
    return or_(
        TrainingSession.organiser_org_unit_id.in_(subtree_ids(actor.org_path)),
        TrainingSession.id.in_(select(SessionAudience.training_session_id).where(reaching)),
    )


def managed_organiser(column: QueryableAttribute[uuid.UUID], actor: Actor) -> ColumnElement[bool]:
    """Sessions the actor may change: those organised inside its subtree."""
    if actor.role == Role.admin:
        return true()
    if actor.role != Role.org_admin or actor.org_path is None:
        return false()
    return column.in_(subtree_ids(actor.org_path))


async def audience_of(
    db_session: AsyncSession, training_session_id: uuid.UUID
) -> list[tuple[SessionAudience, str]]:
    """The session's audience units with their materialised paths, deepest first."""
    rows = await db_session.execute(
        select(SessionAudience, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == SessionAudience.org_unit_id)
        .where(SessionAudience.training_session_id == training_session_id)
        .order_by(func.length(OrgUnit.path).desc(), OrgUnit.path)
    )
    return [(a, p) for a, p in rows.all()]


async def delete_audience(db_session: AsyncSession, rows: list[SessionAudience]) -> None:
    for row in rows:
        await db_session.delete(row)


async def without_audience(db_session: AsyncSession) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Each session that names no audience, with the unit its default audience is
    (docs/rules.md rule 11): a department's parent, any other organiser itself."""
    default = case(
        (OrgUnit.kind == OrgUnitKind.department, func.coalesce(OrgUnit.parent_id, OrgUnit.id)),
        else_=OrgUnit.id,
    )
    rows = await db_session.execute(
        select(TrainingSession.id, default)
        .join(OrgUnit, OrgUnit.id == TrainingSession.organiser_org_unit_id)
        .where(~TrainingSession.id.in_(select(SessionAudience.training_session_id)))
        .order_by(TrainingSession.id)
    )
    return [(session_id, unit_id) for session_id, unit_id in rows.all()]


_PERIOD_ORDER = case(
    {DayPeriod.morning: 0, DayPeriod.afternoon: 1, DayPeriod.evening: 2},
    value=SessionPart.period,
)


async def parts_of(
    db_session: AsyncSession, training_session_id: uuid.UUID
) -> Sequence[SessionPart]:
    """The session's parts by day, then morning, afternoon, evening."""
    return (
        await db_session.scalars(
            select(SessionPart)
            .where(SessionPart.training_session_id == training_session_id)
            .order_by(SessionPart.part_date, _PERIOD_ORDER)
        )
    ).all()


async def get_part(
    db_session: AsyncSession, training_session_id: uuid.UUID, part_id: uuid.UUID
) -> SessionPart | None:
    return (
        await db_session.scalars(
            select(SessionPart).where(
                SessionPart.id == part_id, SessionPart.training_session_id == training_session_id
            )
        )
    ).one_or_none()


async def get_part_with_session(
    db_session: AsyncSession, part_id: uuid.UUID, *, share_session: bool = False
) -> tuple[SessionPart, TrainingSession] | None:
    """`share_session`: the session row FOR SHARE, so that a QR sign-in and the writers that
    take it FOR UPDATE (closing, the organiser's marks, a leave's approval) take turns, and a
    sign-in never lands after a close has read the marks."""
    stmt = (
        select(SessionPart, TrainingSession)
        .join(TrainingSession, TrainingSession.id == SessionPart.training_session_id)
        .where(SessionPart.id == part_id)
    )
    if share_session:
        stmt = stmt.with_for_update(read=True, of=TrainingSession)
    row = (await db_session.execute(stmt)).one_or_none()
    return None if row is None else (row[0], row[1])


async def unit_path(db_session: AsyncSession, org_unit_id: uuid.UUID) -> str | None:
    return await db_session.scalar(select(OrgUnit.path).where(OrgUnit.id == org_unit_id))
