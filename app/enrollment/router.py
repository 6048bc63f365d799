import uuid

from fastapi import APIRouter, Response, status

from app.cadre.errors import ReferencedCadreNotFound
from app.db import DbSession
from app.enrollment import seats, service
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
    NominationForbidden,
    NotReplaceable,
    OutsideAudience,
    QuotaReached,
    SelfEnrollmentOff,
    SessionNotOpen,
)
from app.enrollment.models import Enrollment
from app.enrollment.schemas import (
    EnrollmentCreate,
    EnrollmentRead,
    EnrollmentReview,
    EnrollmentUpdate,
    NominationBatch,
    NominationReport,
    NominationRow,
)
from app.enums import EnrollmentStatus, NominationOutcome
from app.errors import AppError, FieldNotAllowed, PreconditionFailed
from app.http import API_PREFIX, IfMatch, check_if_match, problems, set_etag
from app.i18n import gettext
from app.idempotency.route import IdempotentRoute
from app.pagination import Page, PageQuery
from app.security import CurrentActor
from app.training_session import service as session_service
from app.training_session.errors import (
    AudienceUnitOutOfReach,
    NotSessionOrganiser,
    QuotaBelowSeats,
    QuotasExceedCapacity,
    SessionFull,
    SessionImmutable,
    TrainingSessionNotFound,
)
from app.training_session.models import SessionAudience, TrainingSession
from app.training_session.schemas import (
    AudienceRead,
    AudienceUnitRead,
    AudienceUpdate,
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
        QuotaReached,
        OutsideAudience,
        SelfEnrollmentOff,
        NominationForbidden,
        NotReplaceable,
        NotSessionOrganiser,
    ),
)
async def enroll_cadre(
    training_session_id: uuid.UUID,
    body: EnrollmentCreate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
) -> EnrollmentRead:
    """Enroll a cadre: the organiser's roll call (点名调学, `enrolled` at once; 403 to anyone
    but an `admin` or an `org_admin` of the organising unit's tree), a cadre's own
    enrollment (`self`, unless the organiser turned it off) or a unit's nomination
    (`nomination`: an org_admin nominates a cadre of its subtree who falls in the session's
    audience; `nominated` until the organiser reviews it). docs/rules.md rule 11: every
    enrollment counts against the seat quota of the audience unit its cadre falls under (409
    `enrollment.quota_reached`). When the session is full, a roll call is refused (409
    `enrollment.session_full`), while a nomination or a self-enrollment joins the waitlist
    (`waitlisted`, with its `waitlist_position`). Capacity and quotas hold when many requests
    race for the last seats. `replaces_enrollment_id` names the `substitute_requested`
    enrollment a nomination replaces, of the same audience unit. Without `origin`, a cadre
    enrolls itself, the organiser calls the roll and any other `org_admin` nominates. A
    withdrawn or rejected cadre is nominated again on its enrollment, which starts over."""
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
        QuotaReached,
        LeaveOverrideReasonRequired,
        OutsideAudience,
        SelfEnrollmentOff,
        SessionNotOpen,
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
    """Confirm, withdraw (a seat freed seats the first waitlisted enrollment whose unit's quota
    allows, docs/rules.md rule 11) or re-enroll (as a new enrollment of its origin would be:
    placed in the audience again, within its unit's quota, after the waitlist; waitlisted when
    the session is full, unless it is a roll call; a nomination is nominated again by POST
    instead); record leave hours and the score; grant or withdraw an exception to the leave cap
    (`leave_exception_reason`, docs/rules.md rule 7). In a session with parts leave is computed
    from attendance; typed `leave_hours` there overrides it and needs `leave_override_reason`
    (422 `enrollment.leave_override_reason_required`, rule 12);
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


@router.post(
    "/{enrollment_id}/review",
    operation_id="reviewEnrollment",
    responses=problems(
        EnrollmentNotFound,
        NotSessionOrganiser,
        InvalidEnrollmentTransition,
        EnrollmentFinal,
        PreconditionFailed,
    ),
)
async def review_enrollment(
    enrollment_id: uuid.UUID,
    body: EnrollmentReview,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> EnrollmentRead:
    """The organiser reviews a nomination (docs/rules.md rule 11): `approve` (→ `enrolled`),
    `reject` with a reason (→ `rejected`: the seat is freed, and the first waitlisted enrollment
    whose unit's quota allows takes it) or `request_substitute` with a reason (→
    `substitute_requested`: the unit keeps the seat and nominates a replacement with
    `replaces_enrollment_id`). Only an `admin` or an `org_admin` of the organising unit's tree
    (403 otherwise)."""
    enrollment = await service.get_enrollment(db_session, enrollment_id, actor)
    check_if_match(if_match, enrollment.version)
    enrollment = await service.review(db_session, enrollment, body, actor)
    set_etag(response, enrollment.version)
    return EnrollmentRead.model_validate(enrollment)


def _nomination_row(
    index: int, cadre_id: uuid.UUID, answer: Enrollment | AppError
) -> NominationRow:
    if isinstance(answer, AppError):
        return NominationRow(
            index=index,
            cadre_id=cadre_id,
            outcome=NominationOutcome.refused,
            enrollment_id=None,
            waitlist_position=None,
            code=answer.code,
            detail=gettext(answer.detail or answer.title),
        )
    waitlisted = answer.status == EnrollmentStatus.waitlisted
    return NominationRow(
        index=index,
        cadre_id=cadre_id,
        outcome=NominationOutcome.waitlisted if waitlisted else NominationOutcome.created,
        enrollment_id=answer.id,
        waitlist_position=answer.waitlist_position,
        code=None,
        detail=None,
    )


@session_router.post(
    "/{training_session_id}/nominations",
    operation_id="nominateCadres",
    responses=problems(TrainingSessionNotFound, NominationForbidden, SessionNotOpen),
)
async def nominate_cadres(
    training_session_id: uuid.UUID,
    body: NominationBatch,
    db_session: DbSession,
    actor: CurrentActor,
) -> NominationReport:
    """Nominate many cadres at once, e.g. the candidates of the roll-call report
    (`GET /reports/roll-call`), in the order given (docs/rules.md rule 11). Answers row by row:
    `created` (`nominated`, holding a seat), `waitlisted` (the session is full) or `refused` with
    the problem code a single nomination would get (`enrollment.quota_reached`,
    `enrollment.already_enrolled`, `enrollment.outside_audience`, `cadre.not_found`, ...). The
    other rows go on."""
    ts = await session_service.get_training_session(
        db_session, training_session_id, actor, for_update=True
    )
    answers = await service.nominate_many(db_session, ts, body.cadre_ids, actor)
    rows = [
        _nomination_row(i, cadre_id, answer)
        for i, (cadre_id, answer) in enumerate(zip(body.cadre_ids, answers, strict=True))
    ]
    return NominationReport(
        training_session_id=ts.id,
        created=sum(r.outcome == NominationOutcome.created for r in rows),
        waitlisted=sum(r.outcome == NominationOutcome.waitlisted for r in rows),
        refused=sum(r.outcome == NominationOutcome.refused for r in rows),
        rows=rows,
    )


def _audience_read(ts: TrainingSession, units: list[tuple[SessionAudience, int]]) -> AudienceRead:
    return AudienceRead(
        training_session_id=ts.id,
        capacity=ts.capacity,
        seats_taken=ts.enrolled,
        units=[
            AudienceUnitRead(org_unit_id=u.org_unit_id, seat_quota=u.seat_quota, seats_taken=n)
            for u, n in units
        ],
    )


@session_router.get(
    "/{training_session_id}/audience",
    operation_id="getSessionAudience",
    responses=problems(TrainingSessionNotFound),
)
async def get_session_audience(
    training_session_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> AudienceRead:
    """The org units the session is for, with their seat quotas (调训名额) and the seats their
    cadres hold (docs/rules.md rule 11); the `ETag` is the session's."""
    ts = await session_service.get_training_session(db_session, training_session_id, actor)
    set_etag(response, ts.version)
    return _audience_read(ts, await seats.audience(db_session, ts))


@session_router.put(
    "/{training_session_id}/audience",
    operation_id="setSessionAudience",
    responses=problems(
        TrainingSessionNotFound,
        NotSessionOrganiser,
        SessionImmutable,
        QuotasExceedCapacity,
        QuotaBelowSeats,
        AudienceUnitOutOfReach,
        PreconditionFailed,
    ),
)
async def set_session_audience(
    training_session_id: uuid.UUID,
    body: AudienceUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> AudienceRead:
    """Replace the session's audience and seat quotas (docs/rules.md rule 11), with `If-Match`
    on the session's `ETag` (the answer carries the new one). A unit lies in the organiser's
    parent subtree, or in the caller's scope (422). The quotas add up to no more than the
    capacity (409 `training_session.quotas_exceed_capacity`); no unit's quota goes below the
    seats its cadres hold, and a unit holding seats cannot leave the audience (409
    `training_session.quota_below_seats`). Free seats then go to the waitlist, in order, as far
    as the new quotas allow. Only the organiser (403 otherwise)."""
    ts = await session_service.get_training_session(
        db_session, training_session_id, actor, for_update=True
    )
    check_if_match(if_match, ts.version)
    units = await seats.set_audience(db_session, ts, body, actor)
    set_etag(response, ts.version)
    return _audience_read(ts, units)
