import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.catalogue.errors import ReferencedCourseNotFound, ReferencedTeacherNotFound
from app.db import DbSession, ReadSession
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
from app.training_session import parts as part_service
from app.training_session import service
from app.training_session.errors import (
    CapacityBelowEnrolled,
    InvalidSessionDates,
    InvalidStatusTransition,
    NotSessionOrganiser,
    PartHasAttendance,
    PartOutsideDates,
    PartsHoursMismatch,
    QuotasExceedCapacity,
    SessionImmutable,
    TrainingSessionNotFound,
)
from app.training_session.models import SessionPart, TrainingSession
from app.training_session.schemas import (
    SessionCourseList,
    SessionCoursesReplace,
    SessionPartList,
    SessionPartRead,
    SessionPartsReplace,
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
    db_session: ReadSession,
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
        PartsHoursMismatch,
        PartOutsideDates,
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
    and the sum of the audience's seat quotas (docs/rules.md rule 11). A session with parts keeps
    them valid: its credit hours stay their sum and its dates hold them (422
    `training_session.parts_hours_mismatch` / `part_outside_dates`; replace the parts first)."""
    ts = await service.get_training_session(db_session, training_session_id, actor, for_update=True)
    check_if_match(if_match, ts.version)
    ts = await service.update_training_session(db_session, ts, body, actor)
    set_etag(response, ts.version)
    return TrainingSessionRead.model_validate(ts)


def _part_list(ts: TrainingSession, parts: Sequence[SessionPart]) -> SessionPartList:
    return SessionPartList(
        training_session_id=ts.id,
        version=ts.version,
        parts=[SessionPartRead.model_validate(p) for p in parts],
    )


@router.get(
    "/{training_session_id}/parts",
    operation_id="listSessionParts",
    responses=problems(TrainingSessionNotFound),
)
async def list_session_parts(
    training_session_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> SessionPartList:
    """The session's parts (课次: a day's morning, afternoon or evening) with their credit hours
    and sign-in windows (local time, Asia/Shanghai); the `ETag` is the session's, for the
    `If-Match` of `PUT .../parts` (docs/rules.md rule 12)."""
    ts = await service.get_training_session(db_session, training_session_id, actor)
    set_etag(response, ts.version)
    return _part_list(ts, await part_service.list_parts(db_session, ts))


@router.put(
    "/{training_session_id}/parts",
    operation_id="replaceSessionParts",
    responses=problems(
        TrainingSessionNotFound,
        NotSessionOrganiser,
        SessionImmutable,
        PartsHoursMismatch,
        PartOutsideDates,
        PartHasAttendance,
        PreconditionFailed,
        ReferencedCourseNotFound,
        ReferencedTeacherNotFound,
    ),
)
async def replace_session_parts(
    training_session_id: uuid.UUID,
    body: SessionPartsReplace,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> SessionPartList:
    """Replace the session's whole list of parts (docs/rules.md rule 12). Their credit hours
    must add up to the session's (422 `training_session.parts_hours_mismatch`), their days lie
    within its dates (422 `training_session.part_outside_dates`), and no two share a day and
    period. A part is matched by day and period: it keeps its id and attendance; a part left
    out is removed, unless it has attendance marks (409 `training_session.part_has_attendance`).
    A window left out is the period's: 08:00–12:00, 14:00–18:00, 19:00–21:30. Send the session's
    `ETag` as `If-Match`; an empty list removes every part. The organiser's (403 otherwise).
    A part may name its `course_id` and `teacher_id`: active catalogue entries of the
    organiser's unit, a unit above it or below it (422
    `catalogue.course_reference_not_found` / `catalogue.teacher_reference_not_found`)."""
    ts = await service.get_training_session(db_session, training_session_id, actor, for_update=True)
    check_if_match(if_match, ts.version)
    parts = await part_service.replace_parts(db_session, ts, body, actor)
    set_etag(response, ts.version)
    return _part_list(ts, parts)


def _course_list(ts: TrainingSession) -> SessionCourseList:
    return SessionCourseList(
        training_session_id=ts.id, version=ts.version, course_ids=list(ts.course_ids)
    )


@router.get(
    "/{training_session_id}/courses",
    operation_id="listSessionCourses",
    responses=problems(TrainingSessionNotFound),
)
async def list_session_courses(
    training_session_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> SessionCourseList:
    """The catalogue courses the session lists directly (docs/rules.md, "Catalogue"); its
    parts name theirs in `GET .../parts`. The `ETag` is the session's."""
    ts = await service.get_training_session(db_session, training_session_id, actor)
    set_etag(response, ts.version)
    return _course_list(ts)


@router.put(
    "/{training_session_id}/courses",
    operation_id="replaceSessionCourses",
    responses=problems(
        TrainingSessionNotFound,
        NotSessionOrganiser,
        SessionImmutable,
        ReferencedCourseNotFound,
        PreconditionFailed,
    ),
)
async def replace_session_courses(
    training_session_id: uuid.UUID,
    body: SessionCoursesReplace,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> SessionCourseList:
    """Replace the courses the session lists directly, before or without parts naming them:
    active catalogue courses of the organiser's unit, a unit above or below it (422
    `catalogue.course_reference_not_found`). Send the session's `ETag` as `If-Match`. The
    organiser's (403 otherwise)."""
    ts = await service.get_training_session(db_session, training_session_id, actor, for_update=True)
    check_if_match(if_match, ts.version)
    ts = await part_service.replace_courses(db_session, ts, body, actor)
    set_etag(response, ts.version)
    return _course_list(ts)
