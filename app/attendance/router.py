import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response, status

from app.attendance import service
from app.attendance.errors import (
    AlreadySignedIn,
    DeviceIdRequired,
    LeaveRequestDecided,
    LeaveRequestNotFound,
    NotEnrolled,
    OutsideWindow,
    PartNotOfSession,
    SessionNotInProgress,
    SignInCodeExpired,
    SignInCodeForged,
    SignInCodeMalformed,
)
from app.attendance.schemas import (
    AttendanceBulk,
    AttendanceBulkResult,
    AttendanceBulkRow,
    AttendancePage,
    AttendanceRead,
    AttendanceScan,
    LeaveRequestCreate,
    LeaveRequestPage,
    LeaveRequestRead,
    LeaveRequestRefusal,
    MarkOutcome,
    SignInCodeRead,
    attendance_read,
)
from app.credit_policy.errors import NoPolicyForDate
from app.db import DbSession
from app.enrollment import closing
from app.enrollment import service as enrollment_service
from app.enrollment.errors import AttendanceIncomplete, EnrollmentNotFound
from app.enrollment.schemas import EnrollmentOutcomeRead, SessionClose, SessionClosing
from app.enums import EnrollmentStatus, LeaveRequestStatus
from app.errors import PreconditionFailed
from app.http import (
    API_PREFIX,
    ETAG_DECLARED,
    AppSettings,
    IfMatch,
    check_if_match,
    problems,
    set_etag,
)
from app.idempotency.route import IdempotentRoute
from app.pagination import PageQuery
from app.schema_types import LINE_PATTERN
from app.security import CurrentActor
from app.training_session import service as session_service
from app.training_session.errors import (
    AlreadyClosed,
    InvalidStatusTransition,
    NotSessionOrganiser,
    SessionNotEnded,
    SessionPartNotFound,
    TrainingSessionNotFound,
)
from app.training_session.schemas import TrainingSessionRead

session_router = APIRouter(
    prefix=f"{API_PREFIX}/training-sessions", tags=["attendance"], route_class=IdempotentRoute
)
router = APIRouter(prefix=f"{API_PREFIX}", tags=["attendance"], route_class=IdempotentRoute)
# Closing decides every enrollment of the session (docs/rules.md rules 7 and 11); it reads the
# attendance, so it is routed here, above the enrollment domain whose flow it runs.
closing_router = APIRouter(
    prefix=f"{API_PREFIX}/training-sessions",
    tags=["training sessions"],
    route_class=IdempotentRoute,
)

DeviceId = Annotated[
    str | None,
    Header(
        alias="X-Device-ID",
        max_length=200,
        pattern=LINE_PATTERN,
        description="The signing device's id, as the app knows it; recorded with the mark",
    ),
]


@session_router.get(
    "/{training_session_id}/parts/{part_id}/sign-in-code",
    operation_id="getSignInCode",
    responses=problems(
        TrainingSessionNotFound, SessionPartNotFound, NotSessionOrganiser, SessionNotInProgress
    ),
)
async def get_sign_in_code(
    training_session_id: uuid.UUID,
    part_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    response: Response,
) -> SignInCodeRead:
    """A rotating sign-in code for the part, to show as a QR code on the organiser's screen
    (docs/rules.md rule 12). It is signed by the service and valid for 30 seconds
    (`APP_ATTENDANCE__CODE_SECONDS`): fetch a new one before `expires_at`. The organiser's."""
    ts = await session_service.get_training_session(db_session, training_session_id, actor)
    code = await service.sign_in_code(db_session, settings, ts, part_id, actor)
    response.headers["Cache-Control"] = "no-store"
    return SignInCodeRead(
        sign_in_code=code.code,
        session_part_id=code.session_part_id,
        issued_at=code.issued_at,
        expires_at=code.expires_at,
    )


@router.post(
    "/attendance/scan",
    operation_id="scanSignInCode",
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        SignInCodeMalformed,
        SignInCodeExpired,
        SignInCodeForged,
        DeviceIdRequired,
        SessionPartNotFound,
        SessionNotInProgress,
        NotEnrolled,
        OutsideWindow,
        AlreadySignedIn,
    ),
)
async def scan_sign_in_code(
    body: AttendanceScan,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    x_device_id: DeviceId = None,
) -> AttendanceRead:
    """The trainee's app posts the scanned code, with its `X-Device-ID` (docs/rules.md rule 12).
    The trainee's own active enrollment in the part's session is marked `present`, or `late`
    after the class's start plus the grace (`APP_ATTENDANCE__GRACE_MINUTES`), missing the
    minutes since the start. Only inside the part's sign-in window, from
    `APP_ATTENDANCE__SIGN_IN_OPENS_MINUTES_BEFORE` (30) before the class's start to its end
    (409 `attendance.outside_window`),
    once per enrollment (409 `attendance.already_signed_in`); an expired code is 422
    `attendance.code_expired`, a forged one 403 `attendance.code_forged`. Two trainees signed in
    to one part from one device are both flagged (代签, `flag_reason`), which only the organiser
    sees."""
    attendance = await service.scan(db_session, settings, actor, body.sign_in_code, x_device_id)
    return attendance_read(attendance, organiser=False)


@session_router.post(
    "/{training_session_id}/attendance",
    operation_id="markAttendance",
    responses=problems(TrainingSessionNotFound, NotSessionOrganiser, SessionNotInProgress),
)
async def mark_attendance(
    training_session_id: uuid.UUID,
    body: AttendanceBulk,
    db_session: DbSession,
    actor: CurrentActor,
    x_device_id: DeviceId = None,
) -> AttendanceBulkResult:
    """The organiser marks attendance by hand (`manual`), from a card reader (`card`) or an
    import (`import`): many marks in one request, answered row by row (docs/rules.md rule 12).
    A row replaces the enrollment's mark at the part; a row whose enrollment is not active in
    the session (`attendance.not_enrolled`) or whose part is not the session's
    (`attendance.part_not_of_session`) is rejected on its own, and the others are recorded."""
    ts = await session_service.get_training_session(
        db_session, training_session_id, actor, for_update=True
    )
    results = await service.mark_bulk(db_session, ts, body, actor, x_device_id)
    rows = [
        AttendanceBulkRow(
            index=i,
            enrollment_id=row.enrollment_id,
            session_part_id=row.session_part_id,
            outcome=(
                MarkOutcome.rejected
                if code
                else MarkOutcome.marked
                if changed
                else MarkOutcome.unchanged
            ),
            code=code,
            detail=detail,
            attendance=None if attendance is None else AttendanceRead.model_validate(attendance),
        )
        for i, (row, attendance, changed, code, detail) in enumerate(results)
    ]
    return AttendanceBulkResult(
        marked=sum(r.outcome == MarkOutcome.marked for r in rows),
        unchanged=sum(r.outcome == MarkOutcome.unchanged for r in rows),
        rejected=sum(r.outcome == MarkOutcome.rejected for r in rows),
        rows=rows,
    )


@session_router.get(
    "/{training_session_id}/attendance",
    operation_id="listSessionAttendance",
    responses=problems(TrainingSessionNotFound, NotSessionOrganiser),
)
async def list_session_attendance(
    training_session_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    page: PageQuery,
    session_part_id: uuid.UUID | None = None,
    enrollment_id: uuid.UUID | None = None,
    flagged: Annotated[
        bool | None,
        Query(
            description="`true`: only the suspected proxy sign-ins (代签); `false`: only the "
            "others. The organiser's: 403 `training_session.not_organiser` for anyone else"
        ),
    ] = None,
) -> AttendancePage:
    """The session's attendance marks the caller may see (a trainee: its own; a cadre's unit:
    its cadres'), by part, by enrollment, or (the organiser) by proxy flag. The flags
    (`flag_reason`) are the organiser's: null in everyone else's answer (docs/rules.md rule
    11)."""
    ts = await session_service.get_training_session(db_session, training_session_id, actor)
    items, next_cursor, organiser = await service.list_attendance(
        db_session,
        ts,
        actor,
        page,
        session_part_id=session_part_id,
        enrollment_id=enrollment_id,
        flagged=flagged,
    )
    return AttendancePage(
        items=[attendance_read(a, organiser=organiser) for a in items], next_cursor=next_cursor
    )


@router.post(
    "/enrollments/{enrollment_id}/leave-requests",
    operation_id="requestLeave",
    status_code=status.HTTP_201_CREATED,
    responses=problems(EnrollmentNotFound, PartNotOfSession, NotEnrolled, SessionNotInProgress),
)
async def request_leave(
    enrollment_id: uuid.UUID,
    body: LeaveRequestCreate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
) -> LeaveRequestRead:
    """The trainee (or the organiser for it) asks leave (请假) for parts of its session, with a
    reason; the organiser approves or refuses it (docs/rules.md rule 12)."""
    enrollment = await enrollment_service.get_enrollment(db_session, enrollment_id, actor)
    request = await service.request_leave(db_session, enrollment, body)
    set_etag(response, request.version)
    response.headers["Location"] = f"/api/v1/leave-requests/{request.id}"
    return LeaveRequestRead.model_validate(request)


@session_router.get(
    "/{training_session_id}/leave-requests",
    operation_id="listLeaveRequests",
    responses=problems(TrainingSessionNotFound),
)
async def list_leave_requests(
    training_session_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    page: PageQuery,
    status: LeaveRequestStatus | None = None,
) -> LeaveRequestPage:
    """The session's leave requests the caller may see (a trainee: its own)."""
    ts = await session_service.get_training_session(db_session, training_session_id, actor)
    items, next_cursor = await service.list_leave_requests(db_session, ts, actor, status, page)
    return LeaveRequestPage(
        items=[LeaveRequestRead.model_validate(r) for r in items], next_cursor=next_cursor
    )


@router.get(
    "/leave-requests/{leave_request_id}",
    operation_id="getLeaveRequest",
    responses=problems(LeaveRequestNotFound),
)
async def get_leave_request(
    leave_request_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> LeaveRequestRead:
    """One leave request the caller may see, with its `ETag` for `If-Match`."""
    request = await service.get_leave_request(db_session, leave_request_id, actor)
    set_etag(response, request.version)
    return LeaveRequestRead.model_validate(request)


_DECISION_PROBLEMS = (
    LeaveRequestNotFound,
    NotEnrolled,
    NotSessionOrganiser,
    LeaveRequestDecided,
    SessionNotInProgress,
    PreconditionFailed,
)


@router.post(
    "/leave-requests/{leave_request_id}/approve",
    operation_id="approveLeaveRequest",
    responses=problems(*_DECISION_PROBLEMS),
)
async def approve_leave_request(
    leave_request_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
    x_device_id: DeviceId = None,
) -> LeaveRequestRead:
    """Approve the leave: each requested part is marked `on_leave` naming this request, and
    counts as approved leave (docs/rules.md rule 12). The organiser's (403 otherwise); a
    decided request is 409 `attendance.leave_request_decided`, a request whose enrollment is no
    longer active (withdrawn since) 409 `attendance.not_enrolled`."""
    request = await service.get_leave_request(db_session, leave_request_id, actor, for_update=True)
    check_if_match(if_match, request.version)
    request = await service.approve_leave(db_session, request, actor, x_device_id)
    set_etag(response, request.version)
    return LeaveRequestRead.model_validate(request)


@router.post(
    "/leave-requests/{leave_request_id}/refuse",
    operation_id="refuseLeaveRequest",
    responses=problems(*_DECISION_PROBLEMS),
)
async def refuse_leave_request(
    leave_request_id: uuid.UUID,
    body: LeaveRequestRefusal,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> LeaveRequestRead:
    """Refuse the leave, with a reason. The parts keep their marks: a trainee who stays away
    all the same is absent, and an `on_leave` mark without approval counts as absence
    (docs/rules.md rule 12)."""
    request = await service.get_leave_request(db_session, leave_request_id, actor, for_update=True)
    check_if_match(if_match, request.version)
    request = await service.refuse_leave(db_session, request, body.reason, actor)
    set_etag(response, request.version)
    return LeaveRequestRead.model_validate(request)


@closing_router.post(
    "/{training_session_id}/close",
    operation_id="closeTrainingSession",
    responses={
        200: ETAG_DECLARED,  # the training session's
        **problems(
            TrainingSessionNotFound,
            NotSessionOrganiser,
            AlreadyClosed,
            InvalidStatusTransition,
            SessionNotEnded,
            NoPolicyForDate,
            PreconditionFailed,
            AttendanceIncomplete,
        ),
    },
)
async def close_training_session(
    training_session_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    body: Annotated[SessionClose | None, Body()] = None,
    if_match: IfMatch = None,
) -> SessionClosing:
    """Close the session (docs/rules.md rule 7): in a centralised session every enrolled or
    confirmed trainee whose leave exceeds credit_hours / 7 is withdrawn (退学) with no credit,
    unless the organiser granted a leave exception on the enrollment (`leave_exception_reason`)
    (in other sessions there is no leave cap); the others complete and receive
    an approved study log of credit_hours − leave_hours and proportional days, in the same
    transaction (a trainee excused for every hour completes with no log: nothing to credit).
    In a session with parts the leave is computed from attendance (docs/rules.md rule 12;
    a typed leave with `leave_override_reason` overrides it), and closing is refused while any
    part has active enrollments without a mark (409 `training_session.attendance_incomplete`),
    unless the body gives a `force_reason` (kept on the session; an unmarked part then counts
    as attended). Only trainees are decided: a nomination still under review, a substitute
    request or a waitlisted enrollment earns nothing and keeps its status (docs/rules.md rule
    11). A session closes on its last day at the earliest (local date, Asia/Shanghai): its logs may
    not end after today (docs/rules.md rule 10; 409 `training_session.not_ended`). Closing twice
    is refused."""
    ts = await session_service.get_training_session(
        db_session, training_session_id, actor, for_update=True
    )
    check_if_match(if_match, ts.version)
    await session_service.check_manages(db_session, ts, actor)
    session_service.check_closable(ts)
    outcomes = await closing.close_session(
        db_session,
        ts,
        actor,
        attendance=await service.session_leave(db_session, ts),
        force_reason=None if body is None else body.force_reason,
    )
    set_etag(response, ts.version)
    return SessionClosing(
        training_session=TrainingSessionRead.model_validate(ts),
        completed=sum(o.status == EnrollmentStatus.completed for o in outcomes),
        dropped_out=sum(o.status == EnrollmentStatus.dropped_out for o in outcomes),
        outcomes=[EnrollmentOutcomeRead.model_validate(o) for o in outcomes],
    )
