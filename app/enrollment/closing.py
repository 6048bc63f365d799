"""Closing a session (docs/rules.md rule 7). The outcome is the trainees': each enrolled or
confirmed enrollment completes or drops out (退学), and the completed receive an approved study
log. The flow lives with the enrollments it decides; the session's status, and the logs, are
written by their own domains. The logs end on the session's last day, so a session closes from
that day on, never before (docs/rules.md rule 10: no log ends after today).

In a session with parts the leave that decides is computed from attendance (docs/rules.md rule
12) by the attendance domain, which sits above this one: its caller hands it in as
`AttendanceLeave`, and closing is refused while any part has unmarked enrollments, unless forced
with a reason kept on the session."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.certificate import service as certificates
from app.credit_policy import engine
from app.credit_policy.service import policy_on
from app.enrollment import repository
from app.enrollment.errors import AttendanceIncomplete
from app.enrollment.models import Enrollment
from app.enums import EnrollmentStatus
from app.i18n import _
from app.qualification import service as qualifications
from app.study_log import service as study_logs
from app.training_session import parts as session_parts
from app.training_session import service as sessions
from app.training_session.models import TrainingSession


@dataclass(frozen=True)
class EnrollmentOutcome:
    enrollment_id: uuid.UUID
    cadre_id: uuid.UUID
    status: EnrollmentStatus
    leave_hours: Decimal
    leave_cap: Decimal | None
    leave_exception_reason: str | None
    hours: Decimal
    days: Decimal
    study_log_id: uuid.UUID | None
    explanation: str


@dataclass(frozen=True)
class AttendanceLeave:
    """What attendance says of a session with parts (docs/rules.md rule 12)."""

    leave_of: Mapping[uuid.UUID, Decimal]  # computed leave per active enrollment
    unmarked: int  # (active enrollment, part) pairs without a mark


def _leave(enrollment: Enrollment, attendance: AttendanceLeave | None) -> Decimal:
    """The computed leave where the session has parts, unless the organiser overrode it."""
    if attendance is None or enrollment.leave_override_reason is not None:
        return enrollment.leave_hours
    return attendance.leave_of.get(enrollment.id, Decimal(0))


def _check_attendance_complete(
    attendance: AttendanceLeave | None, force_reason: str | None
) -> None:
    if attendance is not None and attendance.unmarked and force_reason is None:
        raise AttendanceIncomplete(
            _(
                "{count} attendance marks are missing; mark them, or close with a force_reason."
            ).format(count=attendance.unmarked)
        )


async def close_session(
    db_session: AsyncSession,
    ts: TrainingSession,
    actor: Actor,
    *,
    attendance: AttendanceLeave | None,
    force_reason: str | None = None,
) -> list[EnrollmentOutcome]:
    """`ts` must have been loaded FOR UPDATE: a second, concurrent close waits, then is refused.
    `attendance` is required: what attendance computes for a session with parts, None for a
    session without (a caller cannot forget it and close on the typed leave)."""
    await sessions.check_manages(db_session, ts, actor)
    sessions.check_closable(ts)
    _check_attendance_complete(attendance, force_reason)
    policy = await policy_on(db_session, ts.end_date)
    decided = []
    for enrollment in await repository.active_for_update(db_session, ts.id):
        # The leave that decides is kept on the enrollment, so its record shows it.
        enrollment.leave_hours = _leave(enrollment, attendance)
        outcome = engine.close_outcome(
            ts.credit_hours,
            ts.days,
            enrollment.leave_hours,
            policy,
            centralised=ts.centralised,
            leave_exception=enrollment.leave_exception_reason,
        )
        enrollment.status = outcome.status
        decided.append((enrollment, outcome))
    credits = [
        study_logs.SessionCredit(
            cadre_id=enrollment.cadre_id,
            enrollment_id=enrollment.id,
            hours=outcome.hours,
            # Stored with two places; the exact figure is in the explanation.
            days=engine.q2(outcome.days),
        )
        for enrollment, outcome in decided
        if outcome.issues_log
    ]
    issued = study_logs.issue_session_logs(
        db_session,
        training_session_id=ts.id,
        kind=sessions.log_kind(ts),
        title=ts.title,
        provider=ts.provider,
        start_date=ts.start_date,
        end_date=ts.end_date,
        credits=credits,
    )
    log_of = {log.enrollment_id: log.id for log in issued}
    # The reason is kept where it was needed: some parts had unmarked trainees.
    forced = attendance is not None and attendance.unmarked > 0
    sessions.mark_closed(ts, force_reason=force_reason if forced else None)
    # One flush: one INSERT of all issued logs, one pass of the year-sum triggers.
    await db_session.flush()
    # Each completed trainee with a log gets a certificate (结业证书, docs/certificates.md),
    # once the logs it names are written.
    certified = await certificates.issue_for_session(
        db_session,
        ts,
        [
            certificates.Completion(
                cadre_id=log.cadre_id,
                enrollment_id=log.enrollment_id,
                study_log_id=log.id,
                hours=log.hours,
                days=log.days,
            )
            for log in issued
            if log.enrollment_id is not None
        ],
    )
    # A completed class may grant a qualification with validity (持证上岗, docs/rules.md rule
    # 13): every type that lists the session's form or a course it taught, valid from its last
    # day, tied to the trainee's certificate (revoking it revokes them). One call for the class.
    certificate_of = {c.study_log_id: c.id for c in certified}
    await qualifications.grant_for_session(
        db_session,
        form=ts.form,
        course_ids=await session_parts.courses_taught(db_session, ts),
        completed_on=ts.end_date,
        completions=[
            qualifications.Completion(
                cadre_id=log.cadre_id,
                certificate_id=certificate_of.get(log.id),
                evidence=f"{ts.title} (training_session {ts.id}, study_log {log.id})",
            )
            for log in issued
        ],
    )
    return [
        EnrollmentOutcome(
            enrollment_id=enrollment.id,
            cadre_id=enrollment.cadre_id,
            status=outcome.status,
            leave_hours=enrollment.leave_hours,
            leave_cap=outcome.leave_cap,
            leave_exception_reason=enrollment.leave_exception_reason,
            hours=outcome.hours,
            days=outcome.days,
            study_log_id=log_of.get(enrollment.id),
            explanation=outcome.explanation,
        )
        for enrollment, outcome in decided
    ]
