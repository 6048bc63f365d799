import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, false, func, select, true
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.actor import Actor
from app.enums import (
    ACTIVE_ENROLLMENT_STATUSES,
    EnrollmentStatus,
    PlanStatus,
    Role,
    SessionStatus,
)
from app.org_unit.models import OrgUnit
from app.org_unit.tree import subtree_ids
from app.training_plan.models import TrainingPlan, TrainingPlanItem

# The report reads sessions and enrollments, which sit above this domain: through read-only
# table clauses, never their models (reports may read other tables; they never write them).
_session = sql_table(
    "training_session",
    sql_column("id"),
    sql_column("plan_item_id"),
    sql_column("status"),
)
_enrollment = sql_table("enrollment", sql_column("training_session_id"), sql_column("status"))
SEAT_STATUSES = (*sorted(ACTIVE_ENROLLMENT_STATUSES), EnrollmentStatus.completed)


def readable(actor: Actor) -> ColumnElement[bool]:
    """Plans the actor may read: every plan for the whole-tree roles, the plans of its subtree's
    units for an org_admin, none for a cadre."""
    if actor.whole_tree:
        return true()
    if actor.role != Role.org_admin or actor.org_path is None:
        return false()
    return TrainingPlan.org_unit_id.in_(subtree_ids(actor.org_path))


async def get(
    db_session: AsyncSession,
    training_plan_id: uuid.UUID,
    actor: Actor | None = None,
    *,
    for_update: bool = False,
    with_items: bool = True,
) -> TrainingPlan | None:
    stmt = select(TrainingPlan).where(TrainingPlan.id == training_plan_id)
    if actor is not None:
        stmt = stmt.where(readable(actor))
    if with_items:
        stmt = stmt.options(selectinload(TrainingPlan.items))
    if for_update:
        stmt = stmt.with_for_update(of=TrainingPlan)
    return (await db_session.scalars(stmt)).one_or_none()


async def get_by_unit_year(
    db_session: AsyncSession, org_unit_id: uuid.UUID, year: int, actor: Actor
) -> TrainingPlan | None:
    stmt = select(TrainingPlan).where(
        TrainingPlan.org_unit_id == org_unit_id, TrainingPlan.year == year, readable(actor)
    )
    return (await db_session.scalars(stmt)).one_or_none()


async def exists_for(db_session: AsyncSession, org_unit_id: uuid.UUID, year: int) -> bool:
    found = await db_session.scalar(
        select(TrainingPlan.id).where(
            TrainingPlan.org_unit_id == org_unit_id, TrainingPlan.year == year
        )
    )
    return found is not None


async def unit_path(db_session: AsyncSession, org_unit_id: uuid.UUID) -> str:
    path = await db_session.scalar(select(OrgUnit.path).where(OrgUnit.id == org_unit_id))
    assert path is not None  # a plan's unit exists (foreign key, RESTRICT)
    return path


async def unit_parent_id(db_session: AsyncSession, org_unit_id: uuid.UUID) -> uuid.UUID | None:
    """The unit's parent; None for a root unit."""
    return await db_session.scalar(select(OrgUnit.parent_id).where(OrgUnit.id == org_unit_id))


def list_query(
    actor: Actor,
    *,
    unit: OrgUnit | None,
    year: int | None,
    status: PlanStatus | None,
) -> Select[TrainingPlan]:
    stmt = select(TrainingPlan).where(readable(actor))
    if unit is not None:
        stmt = stmt.where(TrainingPlan.org_unit_id.in_(subtree_ids(unit.path)))
    if year is not None:
        stmt = stmt.where(TrainingPlan.year == year)
    if status is not None:
        stmt = stmt.where(TrainingPlan.status == status)
    return stmt


async def get_item(
    db_session: AsyncSession, training_plan_id: uuid.UUID, item_id: uuid.UUID
) -> TrainingPlanItem | None:
    stmt = select(TrainingPlanItem).where(
        TrainingPlanItem.id == item_id, TrainingPlanItem.training_plan_id == training_plan_id
    )
    return (await db_session.scalars(stmt)).one_or_none()


async def item_with_plan(
    db_session: AsyncSession, item_id: uuid.UUID
) -> tuple[TrainingPlanItem, TrainingPlan] | None:
    """The item and its plan, unscoped: a session's organiser decides whether it may name it."""
    row = (
        await db_session.execute(
            select(TrainingPlanItem, TrainingPlan)
            .join(TrainingPlan, TrainingPlan.id == TrainingPlanItem.training_plan_id)
            .where(TrainingPlanItem.id == item_id)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def delete_item(db_session: AsyncSession, item: TrainingPlanItem) -> None:
    await db_session.delete(item)
    await db_session.flush()


async def fulfilment(
    db_session: AsyncSession, training_plan_id: uuid.UUID
) -> Sequence[tuple[uuid.UUID, int, int, int]]:
    """Per item of the plan: (item id, sessions naming it not cancelled, of them closed, seats
    filled in them). Items no session names are absent."""
    seats = (
        select(
            _enrollment.c.training_session_id.label("session_id"),
            func.count().label("filled"),
        )
        .where(_enrollment.c.status.in_([s.value for s in SEAT_STATUSES]))
        .group_by(_enrollment.c.training_session_id)
        .subquery()
    )
    stmt = (
        select(
            _session.c.plan_item_id,
            func.count(),
            func.count().filter(_session.c.status == SessionStatus.closed.value),
            func.coalesce(func.sum(seats.c.filled), 0),
        )
        .select_from(_session)
        .join(TrainingPlanItem, TrainingPlanItem.id == _session.c.plan_item_id)
        .outerjoin(seats, seats.c.session_id == _session.c.id)
        .where(
            TrainingPlanItem.training_plan_id == training_plan_id,
            _session.c.status != SessionStatus.cancelled.value,
        )
        .group_by(_session.c.plan_item_id)
    )
    return [(i, n, h, f) for i, n, h, f in await db_session.execute(stmt)]
