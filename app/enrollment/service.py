"""Enrolling cadres in sessions. Capacity holds under concurrency: every change of the active
count happens under the session's row lock, and a CHECK backs it in the database."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre.service import referenced_cadre
from app.db import flush_mapping_conflicts
from app.enrollment import repository, seats
from app.enrollment.errors import (
    AlreadyEnrolled,
    CadreInactive,
    EnrollmentFinal,
    EnrollmentNotFound,
    InvalidEnrollmentTransition,
    LeaveExceedsSession,
    LeaveExceptionForbidden,
    LeaveOverrideReasonRequired,
    NominationForbidden,
    NotReplaceable,
    OutsideAudience,
    SelfEnrollmentOff,
    SessionNotOpen,
)
from app.enrollment.models import Enrollment
from app.enrollment.schemas import EnrollmentCreate, EnrollmentReview, EnrollmentUpdate
from app.enums import (
    SEAT_HOLDING_STATUSES,
    CadreStatus,
    EnrollmentOrigin,
    EnrollmentStatus,
    NominationReviewAction,
    Role,
    SessionStatus,
)
from app.errors import AppError, FieldNotAllowed, ProblemFieldError
from app.i18n import N_, _
from app.pagination import PageParams, paginate
from app.training_session import repository as sessions
from app.training_session import service as session_service
from app.training_session.errors import NotSessionOrganiser
from app.training_session.models import TrainingSession
from app.training_session.service import check_manages

_CONFLICTS = {"uq_enrollment_training_session_id_cadre_id": AlreadyEnrolled()}

# Organisers call the roll while planning; units nominate while the class is being filled; cadres
# enroll themselves only in open sessions.
_ENROLLABLE = {
    EnrollmentOrigin.roll_call: frozenset(
        {SessionStatus.draft, SessionStatus.open, SessionStatus.running}
    ),
    EnrollmentOrigin.nomination: frozenset({SessionStatus.draft, SessionStatus.open}),
    EnrollmentOrigin.self: frozenset({SessionStatus.open}),
}

# Fields a PATCH may clear with `null`.
_CLEARABLE = frozenset({"score", "leave_exception_reason", "leave_override_reason"})

# The moves a PATCH makes (docs/rules.md rule 11 has the whole table, with the review's).
_TRANSITIONS: dict[EnrollmentStatus, frozenset[EnrollmentStatus]] = {
    EnrollmentStatus.enrolled: frozenset({EnrollmentStatus.confirmed, EnrollmentStatus.withdrawn}),
    EnrollmentStatus.confirmed: frozenset({EnrollmentStatus.withdrawn}),
    EnrollmentStatus.withdrawn: frozenset({EnrollmentStatus.enrolled}),
    EnrollmentStatus.completed: frozenset(),
    EnrollmentStatus.dropped_out: frozenset(),
    EnrollmentStatus.nominated: frozenset({EnrollmentStatus.withdrawn}),
    EnrollmentStatus.substitute_requested: frozenset({EnrollmentStatus.withdrawn}),
    EnrollmentStatus.waitlisted: frozenset({EnrollmentStatus.withdrawn}),
    EnrollmentStatus.rejected: frozenset(),
}

# The review's moves: from a nomination, or from a substitute request the organiser reconsiders.
_REVIEWED = {
    NominationReviewAction.approve: (
        frozenset({EnrollmentStatus.nominated, EnrollmentStatus.substitute_requested}),
        EnrollmentStatus.enrolled,
    ),
    NominationReviewAction.reject: (
        frozenset({EnrollmentStatus.nominated, EnrollmentStatus.substitute_requested}),
        EnrollmentStatus.rejected,
    ),
    NominationReviewAction.request_substitute: (
        frozenset({EnrollmentStatus.nominated}),
        EnrollmentStatus.substitute_requested,
    ),
}


async def get_enrollment(
    db_session: AsyncSession, enrollment_id: uuid.UUID, actor: Actor
) -> Enrollment:
    found = await repository.get(db_session, enrollment_id, actor)
    if found is None:
        raise EnrollmentNotFound()
    return found


async def _check_origin(
    db_session: AsyncSession, ts: TrainingSession, origin: EnrollmentOrigin, actor: Actor
) -> None:
    """Who may use which origin (docs/rules.md rule 11)."""
    if actor.role == Role.cadre and origin != EnrollmentOrigin.self:
        raise FieldNotAllowed(
            N_("A cadre enrolls itself: origin must be `self`."), pointer="/body/origin"
        )
    if origin == EnrollmentOrigin.self and not ts.self_enrollment:
        raise SelfEnrollmentOff()
    if origin == EnrollmentOrigin.nomination and actor.role not in (Role.admin, Role.org_admin):
        raise NominationForbidden()
    if origin == EnrollmentOrigin.roll_call:
        # The roll call seats a cadre without review: the organiser's. A unit nominates.
        await check_manages(db_session, ts, actor)
    if ts.status not in _ENROLLABLE[origin]:
        raise SessionNotOpen(_("The session is {status}.").format(status=ts.status.value))


async def enroll(
    db_session: AsyncSession, ts: TrainingSession, data: EnrollmentCreate, actor: Actor
) -> Enrollment:
    """Enroll or nominate a cadre; `ts` must have been loaded FOR UPDATE. Without a
    replacement (a bulk nomination has none), every check comes before any write, so a refused
    row leaves nothing behind; a refused replacement is undone with its request."""
    await _check_origin(db_session, ts, data.origin, actor)
    cadre = await referenced_cadre(db_session, data.cadre_id, actor)
    if cadre.status != CadreStatus.active:
        raise CadreInactive()
    existing = await repository.id_of(db_session, ts.id, cadre.id)
    if existing is not None:
        raise AlreadyEnrolled(
            _("Enrollment {id} exists; PATCH it to re-enroll.").format(id=existing)
        )
    replaced = None
    if data.replaces_enrollment_id is not None and data.origin != EnrollmentOrigin.nomination:
        raise FieldNotAllowed(
            N_("Only a nomination replaces another enrollment."),
            pointer="/body/replaces_enrollment_id",
        )
    if data.replaces_enrollment_id is not None:
        replaced = await _replaceable(db_session, ts, data.replaces_enrollment_id, actor)
    place = await seats.placement(db_session, ts, cadre.org_unit_id)
    if data.origin == EnrollmentOrigin.nomination and place.audience_org_unit_id is None:
        raise OutsideAudience()
    if replaced is not None:
        # The replacement takes the seat the unit kept: no waitlisted cadre gets it between,
        # and the session's count does not move.
        replaced.status = EnrollmentStatus.withdrawn
        await db_session.flush()
    await seats.check_quota(db_session, ts, place)
    enrollment = Enrollment(
        training_session_id=ts.id,
        cadre_id=cadre.id,
        origin=data.origin,
        leave_hours=0,
        audience_org_unit_id=place.audience_org_unit_id,
        nominated_by_org_unit_id=(
            actor.org_unit_id if data.origin == EnrollmentOrigin.nomination else None
        ),
    )
    if replaced is not None:
        enrollment.status = seats.seated_status(data.origin)
    elif ts.enrolled < ts.capacity:
        session_service.take_place(ts)
        enrollment.status = seats.seated_status(data.origin)
    elif data.origin == EnrollmentOrigin.roll_call:
        session_service.take_place(ts)  # the organiser's roll call is refused when full
    else:
        await seats.join_waitlist(db_session, ts, enrollment)
    db_session.add(enrollment)
    await flush_mapping_conflicts(db_session, _CONFLICTS)
    return enrollment


async def _replaceable(
    db_session: AsyncSession, ts: TrainingSession, enrollment_id: uuid.UUID, actor: Actor
) -> Enrollment:
    found = await repository.get(db_session, enrollment_id, actor)
    if (
        found is None
        or found.training_session_id != ts.id
        or found.status != EnrollmentStatus.substitute_requested
    ):
        raise NotReplaceable()
    return found


async def nominate_many(
    db_session: AsyncSession, ts: TrainingSession, cadre_ids: list[uuid.UUID], actor: Actor
) -> list[Enrollment | AppError]:
    """Nominate each cadre in turn under the session's lock: each row is an enrollment (seated
    or waitlisted) or the error that refused it; the other rows go on."""
    await _check_origin(db_session, ts, EnrollmentOrigin.nomination, actor)
    answers: list[Enrollment | AppError] = []
    for cadre_id in cadre_ids:
        data = EnrollmentCreate(cadre_id=cadre_id, origin=EnrollmentOrigin.nomination)
        try:
            answers.append(await enroll(db_session, ts, data, actor))
        except AppError as exc:
            answers.append(exc)
    return answers


async def review(
    db_session: AsyncSession, enrollment: Enrollment, data: EnrollmentReview, actor: Actor
) -> Enrollment:
    """The organiser approves, rejects (the seat is freed: the waitlist moves) or asks the unit
    for a substitute (the seat is kept for it). docs/rules.md rule 11."""
    ts = await sessions.get(db_session, enrollment.training_session_id, for_update=True)
    assert ts is not None  # FK
    await check_manages(db_session, ts, actor)
    if ts.status in (SessionStatus.closed, SessionStatus.cancelled):
        raise EnrollmentFinal()
    sources, target = _REVIEWED[data.action]
    if enrollment.status not in sources:
        raise InvalidEnrollmentTransition(
            _("{current} → {new} is not allowed.").format(
                current=enrollment.status.value, new=target.value
            )
        )
    enrollment.status = target
    enrollment.review_reason = data.reason
    if target == EnrollmentStatus.rejected:
        await seats.release_seat(db_session, ts)
    await db_session.flush()
    return enrollment


async def _check_grants_exception(
    db_session: AsyncSession, ts: TrainingSession, actor: Actor
) -> None:
    """docs/rules.md rule 7 (N6): the exception to the leave cap is the organiser's to grant, as
    the class is: an `admin`, or an `org_admin` whose tree holds the organising unit. The
    administrator of the trainee's own unit may not."""
    try:
        await check_manages(db_session, ts, actor)
    except NotSessionOrganiser as exc:
        raise LeaveExceptionForbidden() from exc


async def update_enrollment(
    db_session: AsyncSession, enrollment: Enrollment, data: EnrollmentUpdate, actor: Actor
) -> Enrollment:
    changes = {
        k: v for k, v in data.model_dump(exclude_unset=True).items() if getattr(enrollment, k) != v
    }
    changes = {k: v for k, v in changes.items() if v is not None or k in _CLEARABLE}
    if not changes:
        return enrollment
    ts = await sessions.get(db_session, enrollment.training_session_id, for_update=True)
    assert ts is not None  # FK
    if "leave_exception_reason" in changes:
        await _check_grants_exception(db_session, ts, actor)
    if {"leave_hours", "score", "leave_override_reason"} & changes.keys() or changes.get(
        "status"
    ) == (EnrollmentStatus.confirmed):
        # Attendance, leave and score are the organiser's record (rule 7 reads the leave);
        # the cadre's own unit may only withdraw or re-enroll it.
        await check_manages(db_session, ts, actor)
    if ts.status in (SessionStatus.closed, SessionStatus.cancelled):
        raise EnrollmentFinal()
    if "leave_hours" in changes and changes["leave_hours"] > ts.credit_hours:
        raise LeaveExceedsSession(
            _("The session has {hours} credit hours.").format(hours=ts.credit_hours)
        )
    if "leave_hours" in changes:
        await _check_leave_typed(db_session, ts, enrollment, changes)
    new_status = changes.get("status")
    if new_status is not None:
        if new_status not in _TRANSITIONS[enrollment.status]:
            raise InvalidEnrollmentTransition(
                _("{current} → {new} is not allowed.").format(
                    current=enrollment.status.value, new=new_status.value
                )
            )
        if enrollment.origin == EnrollmentOrigin.nomination and new_status == (
            EnrollmentStatus.enrolled
        ):
            raise InvalidEnrollmentTransition(
                _("A withdrawn nomination comes back as a new nomination, under review.")
            )
        released = await _move_seat(db_session, ts, enrollment, new_status)
        if enrollment.status == EnrollmentStatus.waitlisted:
            enrollment.waitlist_position = None
    else:
        released = False
    for field, value in changes.items():
        setattr(enrollment, field, value)
    if released:
        await seats.release_seat(db_session, ts)
    await db_session.flush()
    return enrollment


async def _move_seat(
    db_session: AsyncSession, ts: TrainingSession, enrollment: Enrollment, new: EnrollmentStatus
) -> bool:
    """Take the seat a status change needs; True when the change frees one (the caller
    releases it once the new status is set)."""
    was_seated = enrollment.status in SEAT_HOLDING_STATUSES
    now_seated = new in SEAT_HOLDING_STATUSES
    if now_seated and not was_seated:
        place = seats.Placement(enrollment.audience_org_unit_id, None)
        if enrollment.audience_org_unit_id is not None:
            quota = await seats.placement_of_unit(db_session, ts, enrollment.audience_org_unit_id)
            place = seats.Placement(enrollment.audience_org_unit_id, quota)
        await seats.check_quota(db_session, ts, place)
        session_service.take_place(ts)
    return was_seated and not now_seated


async def _check_leave_typed(
    db_session: AsyncSession, ts: TrainingSession, enrollment: Enrollment, changes: dict[str, Any]
) -> None:
    """docs/rules.md rule 12: in a session with parts, leave is computed from attendance; a
    typed leave_hours is an override and carries its reason."""
    reason = changes.get("leave_override_reason", enrollment.leave_override_reason)
    if reason is None and await sessions.parts_of(db_session, ts.id):
        raise LeaveOverrideReasonRequired(
            errors=[
                ProblemFieldError(
                    pointer="/body/leave_override_reason",
                    detail=_("give the reason for overriding the computed leave"),
                    code="missing",
                )
            ]
        )


async def list_of_session(
    db_session: AsyncSession,
    training_session_id: uuid.UUID,
    actor: Actor,
    status: EnrollmentStatus | None,
    page: PageParams,
) -> tuple[list[Enrollment], str | None]:
    stmt = repository.of_session(training_session_id, actor, status)
    return await paginate(db_session, stmt, Enrollment.id, page)
