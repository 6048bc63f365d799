import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.clock import local_today
from app.db import DbSession, ReadSession
from app.enums import PlanStatus
from app.errors import PreconditionFailed
from app.http import API_PREFIX, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.pagination import PageQuery
from app.security import CurrentActor
from app.training_plan import service
from app.training_plan.errors import (
    EmptyPlan,
    InvalidPlanTransition,
    NotPlanApprover,
    NotPlanManager,
    OwnSubmission,
    PlanExists,
    PlanNotEditable,
    TrainingPlanItemNotFound,
    TrainingPlanNotFound,
)
from app.training_plan.rules import PlanStep
from app.training_plan.schemas import (
    PlanFulfilmentRead,
    PlanReturn,
    TrainingPlanCreate,
    TrainingPlanItemCreate,
    TrainingPlanItemRead,
    TrainingPlanItemUpdate,
    TrainingPlanPage,
    TrainingPlanRead,
    TrainingPlanSummary,
)

router = APIRouter(
    prefix=f"{API_PREFIX}/training-plans", tags=["training plans"], route_class=IdempotentRoute
)
report_router = APIRouter(prefix=f"{API_PREFIX}/reports", tags=["reports"])

YearQuery = Annotated[int | None, Query(ge=1900, le=2199)]


@router.get("", operation_id="listTrainingPlans", responses=problems(OrgUnitNotFound))
async def list_training_plans(
    db_session: ReadSession,
    actor: CurrentActor,
    page: PageQuery,
    org_unit_id: Annotated[
        uuid.UUID | None, Query(description="Plans of this unit or its subtree")
    ] = None,
    year: YearQuery = None,
    status: PlanStatus | None = None,
) -> TrainingPlanPage:
    """The annual training plans the caller may see (its subtree's; every plan for admin,
    hr_system and auditor), without their classes, a page at a time."""
    items, next_cursor = await service.list_plans(
        db_session, actor, page, org_unit_id=org_unit_id, year=year, status=status
    )
    return TrainingPlanPage(
        items=[TrainingPlanSummary.model_validate(p) for p in items], next_cursor=next_cursor
    )


@router.post(
    "",
    operation_id="createTrainingPlan",
    status_code=status.HTTP_201_CREATED,
    responses=problems(ReferencedOrgUnitNotFound, NotPlanManager, PlanExists),
)
async def create_training_plan(
    body: TrainingPlanCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> TrainingPlanRead:
    """A unit's plan for a year (one per unit and year), as a `draft`, with the planned classes
    given (more may be added while it is a draft). An org_admin drafts the plans of its own
    unit and of the units below it."""
    plan = await service.create_plan(db_session, body, actor)
    set_etag(response, plan.version)
    response.headers["Location"] = f"/api/v1/training-plans/{plan.id}"
    return TrainingPlanRead.model_validate(plan)


@router.get(
    "/{training_plan_id}",
    operation_id="getTrainingPlan",
    responses=problems(TrainingPlanNotFound),
)
async def get_training_plan(
    training_plan_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> TrainingPlanRead:
    """One plan with its planned classes and its `ETag` (which changes with any of its classes)
    for `If-Match`; 404 outside the caller's scope."""
    plan = await service.get_plan(db_session, training_plan_id, actor)
    set_etag(response, plan.version)
    return TrainingPlanRead.model_validate(plan)


@router.post(
    "/{training_plan_id}/items",
    operation_id="addTrainingPlanItem",
    status_code=status.HTTP_201_CREATED,
    responses=problems(TrainingPlanNotFound, NotPlanManager, PlanNotEditable, PreconditionFailed),
)
async def add_training_plan_item(
    training_plan_id: uuid.UUID,
    body: TrainingPlanItemCreate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> TrainingPlanItemRead:
    """Add a planned class to a `draft` or `returned` plan (`If-Match`: the plan's ETag)."""
    plan = await service.get_plan(db_session, training_plan_id, actor, for_update=True)
    check_if_match(if_match, plan.version)
    item = await service.add_item(db_session, plan, body, actor)
    set_etag(response, item.version)
    response.headers["Location"] = f"/api/v1/training-plans/{plan.id}/items/{item.id}"
    return TrainingPlanItemRead.model_validate(item)


@router.patch(
    "/{training_plan_id}/items/{plan_item_id}",
    operation_id="updateTrainingPlanItem",
    responses=problems(
        TrainingPlanNotFound,
        TrainingPlanItemNotFound,
        NotPlanManager,
        PlanNotEditable,
        PreconditionFailed,
    ),
)
async def update_training_plan_item(
    training_plan_id: uuid.UUID,
    plan_item_id: uuid.UUID,
    body: TrainingPlanItemUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> TrainingPlanItemRead:
    """Change a planned class of a `draft` or `returned` plan (`If-Match`: the class's ETag)."""
    plan = await service.get_plan(db_session, training_plan_id, actor, for_update=True)
    item = await service.get_item(db_session, plan, plan_item_id)
    check_if_match(if_match, item.version)
    item = await service.update_item(db_session, plan, item, body, actor)
    set_etag(response, item.version)
    return TrainingPlanItemRead.model_validate(item)


@router.delete(
    "/{training_plan_id}/items/{plan_item_id}",
    operation_id="deleteTrainingPlanItem",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(
        TrainingPlanNotFound,
        TrainingPlanItemNotFound,
        NotPlanManager,
        PlanNotEditable,
        PreconditionFailed,
    ),
)
async def delete_training_plan_item(
    training_plan_id: uuid.UUID,
    plan_item_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    if_match: IfMatch = None,
) -> None:
    """Remove a planned class from a `draft` or `returned` plan (`If-Match`: the class's
    ETag)."""
    plan = await service.get_plan(db_session, training_plan_id, actor, for_update=True)
    item = await service.get_item(db_session, plan, plan_item_id)
    check_if_match(if_match, item.version)
    await service.delete_item(db_session, plan, item, actor)


@router.post(
    "/{training_plan_id}/submit",
    operation_id="submitTrainingPlan",
    responses=problems(
        TrainingPlanNotFound, NotPlanManager, InvalidPlanTransition, EmptyPlan, PreconditionFailed
    ),
)
async def submit_training_plan(
    training_plan_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> TrainingPlanRead:
    """Submit a `draft` or `returned` plan (with at least one class) to the unit above for
    approval. An org_admin submits its subtree's plans."""
    plan = await service.get_plan(db_session, training_plan_id, actor, for_update=True)
    check_if_match(if_match, plan.version)
    plan = await service.submit(db_session, plan, actor)
    set_etag(response, plan.version)
    return TrainingPlanRead.model_validate(plan)


@router.post(
    "/{training_plan_id}/approve",
    operation_id="approveTrainingPlan",
    responses=problems(
        TrainingPlanNotFound,
        NotPlanApprover,
        OwnSubmission,
        InvalidPlanTransition,
        PreconditionFailed,
    ),
)
async def approve_training_plan(
    training_plan_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> TrainingPlanRead:
    """Approve a `submitted` plan: an org_admin of the plan unit's parent unit, or an admin;
    never the user who submitted it. Approved is final; sessions may then name its classes."""
    plan = await service.get_plan(db_session, training_plan_id, actor, for_update=True)
    check_if_match(if_match, plan.version)
    plan = await service.decide(db_session, plan, actor, PlanStep.approve)
    set_etag(response, plan.version)
    return TrainingPlanRead.model_validate(plan)


@router.post(
    "/{training_plan_id}/return",
    operation_id="returnTrainingPlan",
    responses=problems(
        TrainingPlanNotFound,
        NotPlanApprover,
        OwnSubmission,
        InvalidPlanTransition,
        PreconditionFailed,
    ),
)
async def return_training_plan(
    training_plan_id: uuid.UUID,
    body: PlanReturn,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> TrainingPlanRead:
    """Return a `submitted` plan with the `reason` to change it; its unit edits it and submits
    it again. Who may: as for approving."""
    plan = await service.get_plan(db_session, training_plan_id, actor, for_update=True)
    check_if_match(if_match, plan.version)
    plan = await service.decide(db_session, plan, actor, PlanStep.return_, body.reason)
    set_etag(response, plan.version)
    return TrainingPlanRead.model_validate(plan)


@report_router.get(
    "/plan-fulfilment",
    operation_id="getPlanFulfilmentReport",
    responses=problems(OrgUnitNotFound, TrainingPlanNotFound),
)
async def get_plan_fulfilment_report(
    db_session: ReadSession,
    actor: CurrentActor,
    org_unit_id: uuid.UUID,
    year: Annotated[int | None, Query(ge=1900, le=2199, description="Default: this year")] = None,
) -> PlanFulfilmentRead:
    """The unit's plan for the year against what happened (docs/rules.md, "Training plans"):
    per planned class, the sessions naming it (not cancelled), those held (closed), and the
    planned against the filled seats (enrollments active or completed in those sessions); and
    the totals."""
    return await service.fulfilment_report(
        db_session, org_unit_id, year or local_today().year, actor
    )
