"""Enrolling cadres in sessions. Capacity holds under concurrency: every change of the active
count happens under the session's row lock, and a CHECK backs it in the database."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre.service import referenced_cadre
from app.db import flush_mapping_conflicts
from app.enrollment import repository
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
from app.enrollment.models import Enrollment
from app.enrollment.schemas import EnrollmentCreate, EnrollmentUpdate
from app.enums import (
    ACTIVE_ENROLLMENT_STATUSES,
    CadreStatus,
    EnrollmentOrigin,
    EnrollmentStatus,
    Role,
    SessionStatus,
)
from app.errors import FieldNotAllowed, ProblemFieldError
from app.i18n import N_, _
from app.pagination import PageParams, paginate
from app.training_session import repository as sessions
from app.training_session import service as session_service
from app.training_session.errors import NotSessionOrganiser
from app.training_session.models import TrainingSession
from app.training_session.service import check_manages

_CONFLICTS = {"uq_enrollment_training_session_id_cadre_id": AlreadyEnrolled()}

# Organisers nominate (roll-call) while planning; cadres enroll themselves only in open sessions.
_ENROLLABLE = {
    EnrollmentOrigin.roll_call: frozenset(
        {SessionStatus.draft, SessionStatus.open, SessionStatus.running}
    ),
    EnrollmentOrigin.self: frozenset({SessionStatus.open}),
}

# Fields a PATCH may clear with `null`.
_CLEARABLE = frozenset({"score", "leave_exception_reason", "leave_override_reason"})

_TRANSITIONS: dict[EnrollmentStatus, frozenset[EnrollmentStatus]] = {
    EnrollmentStatus.enrolled: frozenset({EnrollmentStatus.confirmed, EnrollmentStatus.withdrawn}),
    EnrollmentStatus.confirmed: frozenset({EnrollmentStatus.withdrawn}),
    EnrollmentStatus.withdrawn: frozenset({EnrollmentStatus.enrolled}),
    EnrollmentStatus.completed: frozenset(),
    EnrollmentStatus.dropped_out: frozenset(),
}


async def get_enrollment(
    db_session: AsyncSession, enrollment_id: uuid.UUID, actor: Actor
) -> Enrollment:
    found = await repository.get(db_session, enrollment_id, actor)
    if found is None:
        raise EnrollmentNotFound()
    return found


async def enroll(
    db_session: AsyncSession, ts: TrainingSession, data: EnrollmentCreate, actor: Actor
) -> Enrollment:
    """Enroll a cadre; `ts` must have been loaded FOR UPDATE."""
    if actor.role == Role.cadre and data.origin != EnrollmentOrigin.self:
        raise FieldNotAllowed(
            N_("A cadre enrolls itself: origin must be `self`."), pointer="/body/origin"
        )
    if ts.status not in _ENROLLABLE[data.origin]:
        raise SessionNotOpen(_("The session is {status}.").format(status=ts.status.value))
    cadre = await referenced_cadre(db_session, data.cadre_id, actor)
    if cadre.status != CadreStatus.active:
        raise CadreInactive()
    existing = await repository.id_of(db_session, ts.id, cadre.id)
    if existing is not None:
        raise AlreadyEnrolled(
            _("Enrollment {id} exists; PATCH it to re-enroll.").format(id=existing)
        )
    session_service.take_place(ts)
    enrollment = Enrollment(
        training_session_id=ts.id,
        cadre_id=cadre.id,
        origin=data.origin,
        status=EnrollmentStatus.enrolled,
        leave_hours=0,
    )
    db_session.add(enrollment)
    await flush_mapping_conflicts(db_session, _CONFLICTS)
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
    if new_status is not None:
        if new_status not in _TRANSITIONS[enrollment.status]:
            raise InvalidEnrollmentTransition(
                _("{current} → {new} is not allowed.").format(
                    current=enrollment.status.value, new=new_status.value
                )
            )
        was_active = enrollment.status in ACTIVE_ENROLLMENT_STATUSES
        now_active = new_status in ACTIVE_ENROLLMENT_STATUSES
        if now_active and not was_active:
            session_service.take_place(ts)
        elif was_active and not now_active:
            session_service.release_place(ts)
    for field, value in changes.items():
        setattr(enrollment, field, value)
    await db_session.flush()
    return enrollment


async def _check_leave_typed(
    db_session: AsyncSession, ts: TrainingSession, enrollment: Enrollment, changes: dict[str, Any]
) -> None:
    """docs/rules.md rule 11: in a session with parts, leave is computed from attendance; a
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
    """docs/rules.md rule 11: a reason alone would make the stored leave_hours (often 0) the
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
