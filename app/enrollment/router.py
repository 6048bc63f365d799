import uuid

from fastapi import APIRouter, Response, status

from app.cadre.errors import ReferencedCadreNotFound
from app.db import DbSession
from app.enrollment import service
from app.enrollment.errors import (
    AlreadyEnrolled,
    CadreInactive,
    EnrollmentFinal,
    EnrollmentNotFound,
    InvalidEnrollmentTransition,
    LeaveExceedsSession,
    LeaveExceptionForbidden,
    LeaveOverrideHoursRequired,
    LeaveOverrideReasonRequired,
    SessionNotOpen,
)
from app.enrollment.schemas import (
    EnrollmentCreate,
    EnrollmentRead,
    EnrollmentUpdate,
)
from app.enums import EnrollmentStatus
from app.errors import FieldNotAllowed, PreconditionFailed
from app.http import API_PREFIX, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.pagination import Page, PageQuery
from app.security import CurrentActor
from app.training_session import service as session_service
from app.training_session.errors import (
    NotSessionOrganiser,
    SessionFull,
    TrainingSessionNotFound,
)

session_router = APIRouter(
    prefix=f"{API_PREFIX}/training-sessions", tags=["enrollments"], route_class=IdempotentRoute
)
router = APIRouter(
    prefix=f"{API_PREFIX}/enrollments", tags=["enrollments"], route_class=IdempotentRoute
)


class EnrollmentPage(Page[EnrollmentRead]):
    pass


@session_router.get(
    "/{training_session_id}/enrollments",
    operation_id="listSessionEnrollments",
    responses=problems(TrainingSessionNotFound),
)
async def list_session_enrollments(
    training_session_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    page: PageQuery,
    status: EnrollmentStatus | None = None,
) -> EnrollmentPage:
    """The session's enrollments (参训名单) that the caller may see."""
    ts = await session_service.get_training_session(db_session, training_session_id, actor)
    items, next_cursor = await service.list_of_session(db_session, ts.id, actor, status, page)
    return EnrollmentPage(
        items=[EnrollmentRead.model_validate(e) for e in items], next_cursor=next_cursor
    )


@session_router.post(
    "/{training_session_id}/enrollments",
    operation_id="enrollCadre",
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        TrainingSessionNotFound,
        ReferencedCadreNotFound,
        SessionFull,
        AlreadyEnrolled,
        SessionNotOpen,
        CadreInactive,
        FieldNotAllowed,
    ),
)
async def enroll_cadre(
    training_session_id: uuid.UUID,
    body: EnrollmentCreate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
) -> EnrollmentRead:
    """Enroll a cadre (点名调学 or self-enrollment). Refused when the session is full, even when
    many requests race for the last place."""
    ts = await session_service.get_training_session(
        db_session, training_session_id, actor, for_update=True
    )
    enrollment = await service.enroll(db_session, ts, body, actor)
    set_etag(response, enrollment.version)
    response.headers["Location"] = f"/api/v1/enrollments/{enrollment.id}"
    return EnrollmentRead.model_validate(enrollment)


@router.get(
    "/{enrollment_id}", operation_id="getEnrollment", responses=problems(EnrollmentNotFound)
)
async def get_enrollment(
    enrollment_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> EnrollmentRead:
    """One enrollment the caller may see, with its `ETag` for `If-Match`; 404 otherwise."""
    enrollment = await service.get_enrollment(db_session, enrollment_id, actor)
    set_etag(response, enrollment.version)
    return EnrollmentRead.model_validate(enrollment)


@router.patch(
    "/{enrollment_id}",
    operation_id="updateEnrollment",
    responses=problems(
        EnrollmentNotFound,
        InvalidEnrollmentTransition,
        SessionFull,
        EnrollmentFinal,
        LeaveExceedsSession,
        PreconditionFailed,
        NotSessionOrganiser,
        LeaveExceptionForbidden,
        LeaveOverrideReasonRequired,
        LeaveOverrideHoursRequired,
    ),
)
async def update_enrollment(
    enrollment_id: uuid.UUID,
    body: EnrollmentUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> EnrollmentRead:
    """Confirm, withdraw or re-enroll; record leave hours and the score; grant or withdraw an
    exception to the leave cap (`leave_exception_reason`, docs/rules.md rule 7). In a session
    with parts leave is computed from attendance; typed `leave_hours` there overrides it and
    needs `leave_override_reason` (422 `enrollment.leave_override_reason_required`, rule 11);
    setting the reason needs `leave_hours` in the same request (422
    `enrollment.leave_override_hours_required`).
    Leave, score, confirmation and the exception are the organiser's record: an `admin` or an
    `org_admin` of the organising unit's tree (403 otherwise). Once the session is closed or
    cancelled, nothing changes any more (409 `enrollment.final`)."""
    enrollment = await service.get_enrollment(db_session, enrollment_id, actor)
    check_if_match(if_match, enrollment.version)
    enrollment = await service.update_enrollment(db_session, enrollment, body, actor)
    set_etag(response, enrollment.version)
    return EnrollmentRead.model_validate(enrollment)
