"""Annual training plans (docs/rules.md, "Training plans"): a unit drafts its year's planned
classes, submits the plan to the unit above, which approves it or returns it with a reason."""

import uuid
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.actor import Actor
from app.db import flush_mapping_conflicts
from app.enums import PlanStatus, Role
from app.errors import ProblemFieldError
from app.i18n import N_, _
from app.org_unit import repository as org_units
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.pagination import PageParams, paginate
from app.training_plan import repository, rules
from app.training_plan.errors import (
    EmptyPlan,
    InvalidPlanTransition,
    NotPlanApprover,
    NotPlanManager,
    OwnSubmission,
    PlanExists,
    PlanItemNotUsable,
    PlanNotEditable,
    ReferencedPlanItemNotFound,
    TrainingPlanItemNotFound,
    TrainingPlanNotFound,
)
from app.training_plan.models import TrainingPlan, TrainingPlanItem
from app.training_plan.rules import PlanStep
from app.training_plan.schemas import (
    FulfilmentTotals,
    ItemFulfilment,
    PlanFulfilmentRead,
    TrainingPlanCreate,
    TrainingPlanItemCreate,
    TrainingPlanItemUpdate,
)


async def get_plan(
    db_session: AsyncSession,
    training_plan_id: uuid.UUID,
    actor: Actor,
    *,
    for_update: bool = False,
) -> TrainingPlan:
    found = await repository.get(db_session, training_plan_id, actor, for_update=for_update)
    if found is None:
        raise TrainingPlanNotFound()
    return found


async def list_plans(
    db_session: AsyncSession,
    actor: Actor,
    page: PageParams,
    *,
    org_unit_id: uuid.UUID | None,
    year: int | None,
    status: PlanStatus | None,
) -> tuple[list[TrainingPlan], str | None]:
    unit = None
    if org_unit_id is not None:
        unit = await org_units.get(db_session, org_unit_id, actor)
        if unit is None:
            raise OrgUnitNotFound()
    stmt = repository.list_query(actor, unit=unit, year=year, status=status)
    return await paginate(db_session, stmt, TrainingPlan.id, page)


async def _check_manages(db_session: AsyncSession, plan_unit_id: uuid.UUID, actor: Actor) -> None:
    """An admin, or an org_admin whose subtree holds the plan's unit (its own unit included)."""
    if actor.role == Role.admin:
        return
    if actor.role != Role.org_admin or actor.org_path is None:
        raise NotPlanManager()
    if not rules.in_subtree(await repository.unit_path(db_session, plan_unit_id), actor.org_path):
        raise NotPlanManager()


async def _check_decides(db_session: AsyncSession, plan: TrainingPlan, actor: Actor) -> None:
    """An admin, or an org_admin of the plan unit's PARENT unit itself (not its own unit, nor
    one higher up); and never the user who submitted the plan (docs/rules.md, "Training
    plans")."""
    if actor.role != Role.admin:
        if actor.role != Role.org_admin or actor.org_unit_id is None:
            raise NotPlanApprover()
        parent_id = await repository.unit_parent_id(db_session, plan.org_unit_id)
        if parent_id is None or actor.org_unit_id != parent_id:
            raise NotPlanApprover()
    if plan.submitted_by is not None and plan.submitted_by == actor.user_id:
        raise OwnSubmission()


def _check_editable(plan: TrainingPlan) -> None:
    if not rules.editable(plan.status):
        raise PlanNotEditable(_("The plan is {status}.").format(status=plan.status.value))


def _touch(plan: TrainingPlan) -> None:
    """A change to one of its classes raises the plan's version: its ETag covers its classes."""
    plan.updated_at = func.now()


def _new_item(plan: TrainingPlan, data: TrainingPlanItemCreate) -> TrainingPlanItem:
    return TrainingPlanItem(training_plan_id=plan.id, **data.model_dump())


async def create_plan(
    db_session: AsyncSession, data: TrainingPlanCreate, actor: Actor
) -> TrainingPlan:
    if await org_units.get(db_session, data.org_unit_id, actor) is None:
        raise ReferencedOrgUnitNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/org_unit_id", detail="no such org unit", code="not_found"
                )
            ]
        )
    await _check_manages(db_session, data.org_unit_id, actor)
    exists = PlanExists(_("The unit's plan for {year} exists already.").format(year=data.year))
    if await repository.exists_for(db_session, data.org_unit_id, data.year):
        raise exists
    plan = TrainingPlan(
        org_unit_id=data.org_unit_id, year=data.year, title=data.title, status=PlanStatus.draft
    )
    db_session.add(plan)
    await flush_mapping_conflicts(db_session, {"uq_training_plan_org_unit_id_year": exists})
    db_session.add_all([_new_item(plan, item) for item in data.items])
    await db_session.flush()
    return await get_plan(db_session, plan.id, actor)


async def add_item(
    db_session: AsyncSession, plan: TrainingPlan, data: TrainingPlanItemCreate, actor: Actor
) -> TrainingPlanItem:
    """`plan` loaded FOR UPDATE: a class is never added to a plan being submitted."""
    await _check_manages(db_session, plan.org_unit_id, actor)
    _check_editable(plan)
    item = _new_item(plan, data)
    db_session.add(item)
    _touch(plan)
    await db_session.flush()
    return item


async def get_item(
    db_session: AsyncSession, plan: TrainingPlan, item_id: uuid.UUID
) -> TrainingPlanItem:
    item = await repository.get_item(db_session, plan.id, item_id)
    if item is None:
        raise TrainingPlanItemNotFound()
    return item


async def update_item(
    db_session: AsyncSession,
    plan: TrainingPlan,
    item: TrainingPlanItem,
    data: TrainingPlanItemUpdate,
    actor: Actor,
) -> TrainingPlanItem:
    await _check_manages(db_session, plan.org_unit_id, actor)
    changes: dict[str, Any] = {
        k: (list(dict.fromkeys(v)) if isinstance(v, list) else v)
        for k, v in data.model_dump(exclude_unset=True).items()
        if v is not None
    }
    changes = {k: v for k, v in changes.items() if getattr(item, k) != v}
    if not changes:
        return item
    _check_editable(plan)
    for field, value in changes.items():
        setattr(item, field, value)
    _touch(plan)
    await db_session.flush()
    return item


async def delete_item(
    db_session: AsyncSession, plan: TrainingPlan, item: TrainingPlanItem, actor: Actor
) -> None:
    await _check_manages(db_session, plan.org_unit_id, actor)
    _check_editable(plan)
    await repository.delete_item(db_session, item)
    _touch(plan)
    await db_session.flush()


def _step(plan: TrainingPlan, step: PlanStep) -> PlanStatus:
    target = rules.next_status(plan.status, step)
    if target is None:
        raise InvalidPlanTransition(
            _("A {status} plan cannot take the step {step}.").format(
                status=plan.status.value, step=step.value
            )
        )
    return target


async def submit(db_session: AsyncSession, plan: TrainingPlan, actor: Actor) -> TrainingPlan:
    await _check_manages(db_session, plan.org_unit_id, actor)
    target = _step(plan, PlanStep.submit)
    if not plan.items:
        raise EmptyPlan()
    plan.status = target
    plan.submitted_at = clock.now()
    plan.submitted_by = actor.user_id
    plan.return_reason = None
    await db_session.flush()
    return plan


async def decide(
    db_session: AsyncSession,
    plan: TrainingPlan,
    actor: Actor,
    step: PlanStep,
    reason: str | None = None,
) -> TrainingPlan:
    """Approve, or return with a reason (a returned plan is edited and submitted again)."""
    await _check_decides(db_session, plan, actor)
    plan.status = _step(plan, step)
    plan.decided_at = clock.now()
    plan.decided_by = actor.user_id
    if step == PlanStep.return_:
        plan.return_reason = reason
    await db_session.flush()
    return plan


async def check_item_usable(
    db_session: AsyncSession,
    item_id: uuid.UUID,
    organiser_org_unit_id: uuid.UUID,
    *,
    year: int | None = None,
) -> None:
    """A session names a planned class of an APPROVED plan of its organiser unit or of a unit
    above it (the organiser lies in the plan unit's subtree: a party school under the county
    holds the county's classes), for the year it starts in (docs/rules.md, "Training plans").
    An unknown item is 422; one the session may not name is 409."""
    found = await repository.item_with_plan(db_session, item_id)
    if found is None:
        raise ReferencedPlanItemNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/plan_item_id", detail="no such planned class", code="not_found"
                )
            ]
        )
    plan = found[1]
    if plan.status != PlanStatus.approved:
        raise PlanItemNotUsable(
            _("The planned class's plan is {status}, not approved.").format(
                status=plan.status.value
            )
        )
    if plan.org_unit_id != organiser_org_unit_id and not rules.in_subtree(
        await repository.unit_path(db_session, organiser_org_unit_id),
        await repository.unit_path(db_session, plan.org_unit_id),
    ):
        raise PlanItemNotUsable(N_("The planned class is in another unit's plan."))
    if year is not None and plan.year != year:
        raise PlanItemNotUsable(
            _(
                "The planned class is in the plan for {plan_year}, the session starts in {year}."
            ).format(plan_year=plan.year, year=year)
        )


async def fulfilment_report(
    db_session: AsyncSession, org_unit_id: uuid.UUID, year: int, actor: Actor
) -> PlanFulfilmentRead:
    """Planned against held classes and planned against filled seats, per planned class of the
    unit's plan for the year (docs/rules.md, "Training plans")."""
    if await org_units.get(db_session, org_unit_id, actor) is None:
        raise OrgUnitNotFound()
    found = await repository.get_by_unit_year(db_session, org_unit_id, year, actor)
    if found is None:
        raise TrainingPlanNotFound(_("The unit has no training plan for {year}.").format(year=year))
    plan = await get_plan(db_session, found.id, actor)
    counts = {
        item_id: (sessions, held, filled)
        for item_id, sessions, held, filled in await repository.fulfilment(db_session, plan.id)
    }
    items = []
    for item in plan.items:
        sessions, held, filled = counts.get(item.id, (0, 0, 0))
        items.append(
            ItemFulfilment(
                plan_item_id=item.id,
                title=item.title,
                month=item.month,
                planned_classes=1,
                sessions=sessions,
                held_classes=held,
                planned_seats=item.planned_seats,
                filled_seats=filled,
            )
        )
    return PlanFulfilmentRead(
        training_plan_id=plan.id,
        org_unit_id=plan.org_unit_id,
        year=plan.year,
        status=plan.status,
        items=items,
        totals=FulfilmentTotals(
            planned_classes=len(items),
            sessions=sum(i.sessions for i in items),
            held_classes=sum(i.held_classes for i in items),
            fulfilled_classes=sum(1 for i in items if i.held_classes > 0),
            planned_seats=sum(i.planned_seats for i in items),
            filled_seats=sum(i.filled_seats for i in items),
        ),
    )
