import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.db import DbSession
from app.enums import SessionStatus, TrainingForm
from app.errors import PreconditionFailed
from app.http import API_PREFIX, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.pagination import Page, PageQuery
from app.query_alias import resolve_alias
from app.schema_types import LocalDate
from app.security import CurrentActor
from app.training_plan.errors import PlanItemNotUsable, ReferencedPlanItemNotFound
from app.training_session import service
from app.training_session.errors import (
    CapacityBelowEnrolled,
    InvalidSessionDates,
    InvalidStatusTransition,
    NotSessionOrganiser,
    QuotasExceedCapacity,
    SessionImmutable,
    TrainingSessionNotFound,
)
from app.training_session.schemas import (
    TrainingSessionCreate,
    TrainingSessionRead,
    TrainingSessionUpdate,
)

router = APIRouter(
    prefix=f"{API_PREFIX}/training-sessions",
    tags=["training sessions"],
    route_class=IdempotentRoute,
)


class TrainingSessionPage(Page[TrainingSessionRead]):
    pass


@router.get("", operation_id="listTrainingSessions", responses=problems(OrgUnitNotFound))
async def list_training_sessions(
    db_session: DbSession,
    actor: CurrentActor,
    page: PageQuery,
    org_unit_id: Annotated[
        uuid.UUID | None, Query(description="Sessions organised by this unit or its subtree")
    ] = None,
    organiser_org_unit_id: Annotated[
        uuid.UUID | None,
        Query(deprecated=True, description="Deprecated alias of `org_unit_id`"),
    ] = None,
    status: SessionStatus | None = None,
    form: TrainingForm | None = None,
    centralised: bool | None = None,
    starts_from: Annotated[LocalDate | None, Query()] = None,
    starts_to: Annotated[LocalDate | None, Query()] = None,
) -> TrainingSessionPage:
    """The training sessions the caller may see, a page at a time (`next_cursor`), filtered by
    organiser subtree, status, form, centralised and start date."""
    items, next_cursor = await service.list_training_sessions(
        db_session,
        actor,
        page,
        organiser_org_unit_id=resolve_alias(
            "org_unit_id", org_unit_id, "organiser_org_unit_id", organiser_org_unit_id
        ),
        status=status,
        form=form,
        centralised=centralised,
        starts_from=starts_from,
        starts_to=starts_to,
    )
    return TrainingSessionPage(
        items=[TrainingSessionRead.model_validate(t) for t in items], next_cursor=next_cursor
    )


@router.post(
    "",
    operation_id="createTrainingSession",
    status_code=status.HTTP_201_CREATED,
    responses=problems(ReferencedOrgUnitNotFound, ReferencedPlanItemNotFound, PlanItemNotUsable),
)
async def create_training_session(
    body: TrainingSessionCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> TrainingSessionRead:
    """A new training session, organised by a unit of the caller's scope; answered with its
    `Location` and `ETag`."""
    ts = await service.create_training_session(db_session, body, actor)
    set_etag(response, ts.version)
    response.headers["Location"] = f"/api/v1/training-sessions/{ts.id}"
    return TrainingSessionRead.model_validate(ts)


@router.get(
    "/{training_session_id}",
    operation_id="getTrainingSession",
    responses=problems(TrainingSessionNotFound),
)
async def get_training_session(
    training_session_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> TrainingSessionRead:
    """One training session the caller may see, with its `ETag` for `If-Match`; 404 otherwise."""
    ts = await service.get_training_session(db_session, training_session_id, actor)
    set_etag(response, ts.version)
    return TrainingSessionRead.model_validate(ts)


@router.patch(
    "/{training_session_id}",
    operation_id="updateTrainingSession",
    responses=problems(
        TrainingSessionNotFound,
        SessionImmutable,
        InvalidStatusTransition,
        CapacityBelowEnrolled,
        InvalidSessionDates,
        PreconditionFailed,
        NotSessionOrganiser,
        ReferencedPlanItemNotFound,
        PlanItemNotUsable,
        QuotasExceedCapacity,
    ),
)
async def update_training_session(
    training_session_id: uuid.UUID,
    body: TrainingSessionUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> TrainingSessionRead:
    """Edit a session or move it along its lifecycle (draft → open → running; cancel); turn
    self-enrollment off or on (`self_enrollment`). The capacity stays at or above the seats held
    and the sum of the audience's seat quotas (docs/rules.md rule 11)."""
    ts = await service.get_training_session(db_session, training_session_id, actor, for_update=True)
    check_if_match(if_match, ts.version)
    ts = await service.update_training_session(db_session, ts, body, actor)
    set_etag(response, ts.version)
    return TrainingSessionRead.model_validate(ts)
