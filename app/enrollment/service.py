"""Enrolling cadres in sessions. Capacity holds under concurrency: every change of the active
count happens under the session's row lock, and a CHECK backs it in the database."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre.service import referenced_cadre
from app.db import flush_mapping_conflicts
from app.enrollment import notices, repository, seats
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


async def _origin_of(
    db_session: AsyncSession, ts: TrainingSession, data: EnrollmentCreate, actor: Actor
) -> EnrollmentOrigin:
    """The origin named, or by default: a cadre enrolls itself, the organiser calls the roll,
    any other unit nominates (docs/rules.md rule 11)."""
    if data.origin is not None:
        return data.origin
    if actor.role == Role.cadre:
        return EnrollmentOrigin.self
    if await sessions.is_managed(db_session, ts.id, actor):
        return EnrollmentOrigin.roll_call
    return EnrollmentOrigin.nomination


async def _check_origin(
    db_session: AsyncSession, ts: TrainingSession, origin: EnrollmentOrigin, actor: Actor
) -> None:
    """Who may use which origin (docs/rules.md rule 11)."""
    if actor.role == Role.cadre and origin != EnrollmentOrigin.self:
        raise FieldNotAllowed(
            N_("A cadre enrolls itself: origin must be `self`."), pointer="/body/origin"
        )
    if origin == EnrollmentOrigin.nomination and actor.role not in (Role.admin, Role.org_admin):
        raise NominationForbidden()
    if origin == EnrollmentOrigin.roll_call:
        # The roll call seats a cadre without review: the organiser's. A unit nominates.
        await check_manages(db_session, ts, actor)
    _check_session_takes(ts, origin)


def _check_session_takes(ts: TrainingSession, origin: EnrollmentOrigin) -> None:
    """The session takes this origin now: its status, and the self-enrollment switch."""
    if origin == EnrollmentOrigin.self and not ts.self_enrollment:
        raise SelfEnrollmentOff()
    if ts.status not in _ENROLLABLE[origin]:
        raise SessionNotOpen(_("The session is {status}.").format(status=ts.status.value))


# A nomination withdrawn or rejected comes back as a new nomination, on the same row.
_RENOMINABLE = frozenset({EnrollmentStatus.withdrawn, EnrollmentStatus.rejected})


async def enroll(
    db_session: AsyncSession, ts: TrainingSession, data: EnrollmentCreate, actor: Actor
) -> Enrollment:
    """Enroll or nominate a cadre; `ts` must have been loaded FOR UPDATE. Without a
    replacement (a bulk nomination has none), every check of the row comes before its write,
    so a refused row leaves nothing behind but the waitlist settled (docs/rules.md rule 11);
    a refused replacement is undone with its request. A withdrawn or rejected cadre is
    nominated again on its enrollment, which starts over: placed, counted against its quota,
    nominated or waitlisted, with no review reason."""
    origin = await _origin_of(db_session, ts, data, actor)
    await _check_origin(db_session, ts, origin, actor)
    cadre = await referenced_cadre(db_session, data.cadre_id, actor)
    if cadre.status != CadreStatus.active:
        raise CadreInactive()
    existing = await repository.of_cadre_in_session(db_session, ts.id, cadre.id)
    if existing is not None and not (
        origin == EnrollmentOrigin.nomination and existing.status in _RENOMINABLE
    ):
        raise AlreadyEnrolled(
            _("Enrollment {id} exists; PATCH it to re-enroll.").format(id=existing.id)
        )
    if data.replaces_enrollment_id is not None and origin != EnrollmentOrigin.nomination:
        raise FieldNotAllowed(
            N_("Only a nomination replaces another enrollment."),
            pointer="/body/replaces_enrollment_id",
        )
    place = await seats.placement(db_session, ts, cadre.org_unit_id)
    if origin == EnrollmentOrigin.nomination and place.audience_org_unit_id is None:
        raise OutsideAudience()
    replaced = None
    if data.replaces_enrollment_id is not None:
        replaced = await _replaceable(db_session, ts, data.replaces_enrollment_id, place, actor)
    if replaced is not None:
        # The replacement takes the seat the unit kept: no waitlisted cadre gets it between,
        # and the session's count does not move.
        replaced.status = EnrollmentStatus.withdrawn
        await db_session.flush()
    else:
        # Seats left free (a raised capacity) go to the waitlist before the newcomer.
        await seats.settle(db_session, ts)
    await seats.check_quota(db_session, ts, place)
    enrollment = existing or Enrollment(training_session_id=ts.id, cadre_id=cadre.id, leave_hours=0)
    enrollment.origin = origin
    enrollment.audience_org_unit_id = place.audience_org_unit_id
    enrollment.nominated_by_org_unit_id = (
        actor.org_unit_id if origin == EnrollmentOrigin.nomination else None
    )
    enrollment.review_reason = None
    if replaced is not None:
        enrollment.status = seats.seated_status(origin)
    elif ts.enrolled < ts.capacity:
        session_service.take_place(ts)
        enrollment.status = seats.seated_status(origin)
    elif origin == EnrollmentOrigin.roll_call:
        session_service.take_place(ts)  # the organiser's roll call is refused when full
    else:
        await seats.join_waitlist(db_session, ts, enrollment)
    if existing is None:
        db_session.add(enrollment)
    await flush_mapping_conflicts(db_session, _CONFLICTS)
    await notices.notify_status(db_session, ts, enrollment)
    return enrollment


async def _replaceable(
    db_session: AsyncSession,
    ts: TrainingSession,
    enrollment_id: uuid.UUID,
    place: seats.Placement,
    actor: Actor,
) -> Enrollment:
    """A substitute request of the session, whose seat the replacement's unit holds: the
    replacement falls under the same audience unit."""
    found = await repository.get(db_session, enrollment_id, actor)
    if (
        found is None
        or found.training_session_id != ts.id
        or found.status != EnrollmentStatus.substitute_requested
        or found.audience_org_unit_id != place.audience_org_unit_id
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
    elif changes.get("leave_override_reason") is not None and "leave_hours" not in (
        data.model_fields_set
    ):
        await _check_override_has_hours(db_session, ts)
    new_status = changes.get("status")
    released = False
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
                _("A withdrawn nomination comes back when the unit nominates the cadre again.")
            )
        if enrollment.status == EnrollmentStatus.waitlisted:
            enrollment.waitlist_position = None
        released = enrollment.status in SEAT_HOLDING_STATUSES and (
            new_status not in SEAT_HOLDING_STATUSES
        )
        if new_status == EnrollmentStatus.enrolled:  # withdrawn → enrolled
            changes["status"] = await _re_enroll(db_session, ts, enrollment, actor)
    for field, value in changes.items():
        setattr(enrollment, field, value)
    if released:
        await seats.release_seat(db_session, ts)
    await db_session.flush()
    if changes.get("status") == EnrollmentStatus.waitlisted:
        await notices.notify_status(db_session, ts, enrollment)
    return enrollment


async def _re_enroll(
    db_session: AsyncSession, ts: TrainingSession, enrollment: Enrollment, actor: Actor
) -> EnrollmentStatus:
    """A withdrawn enrollment comes back as a new one of its origin would (docs/rules.md rule
    11): the origin's rules, a fresh placement of the cadre's unit now, its quota, the waitlist
    settled first; a full session waitlists it, or refuses a roll call. The status it takes."""
    await _check_origin(db_session, ts, enrollment.origin, actor)
    unit_id = await repository.unit_of_cadre(db_session, enrollment.cadre_id)
    place = await seats.placement(db_session, ts, unit_id)
    if enrollment.origin != EnrollmentOrigin.roll_call and place.audience_org_unit_id is None:
        raise OutsideAudience()
    await seats.settle(db_session, ts)
    await seats.check_quota(db_session, ts, place)
    enrollment.audience_org_unit_id = place.audience_org_unit_id
    if ts.enrolled < ts.capacity or enrollment.origin == EnrollmentOrigin.roll_call:
        session_service.take_place(ts)
        return EnrollmentStatus.enrolled
    await seats.join_waitlist(db_session, ts, enrollment)
    return EnrollmentStatus.waitlisted


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


async def _check_override_has_hours(db_session: AsyncSession, ts: TrainingSession) -> None:
    """docs/rules.md rule 12: a reason alone would make the stored leave_hours (often 0) the
    leave that decides; the override names its hours in the same request."""
    if await sessions.parts_of(db_session, ts.id):
        raise LeaveOverrideHoursRequired(
            errors=[
                ProblemFieldError(
                    pointer="/body/leave_hours",
                    detail=_("give the leave hours that override the computed leave"),
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
