"""Closing a session (docs/rules.md rule 7): the training_session domain owns the outcome, so the
flow that issues study logs lives here. The logs it issues end on the session's last day, so a
session closes from that day on, never before (docs/rules.md rule 10: no log ends after today)."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.clock import local_today
from app.credit_policy import engine
from app.credit_policy.errors import NoPolicyForDate
from app.credit_policy.policy import NoPolicyInForce, policy_in_force
from app.credit_policy.service import load_policies
from app.enrollment.models import Enrollment
from app.enums import (
    ACTIVE_ENROLLMENT_STATUSES,
    EnrollmentStatus,
    SessionStatus,
    StudyLogKind,
    StudyLogSource,
    StudyLogStatus,
    TrainingForm,
)
from app.ids import new_id
from app.study_log import rules as study_log_rules
from app.study_log.models import StudyLog
from app.training_session.errors import AlreadyClosed, InvalidStatusTransition, SessionNotEnded
from app.training_session.models import TrainingSession
from app.training_session.service import check_manages

# The study-log kind a completed session issues, when the session is not centralised.
_KIND_OF_FORM = {
    TrainingForm.online_class: StudyLogKind.online_course,
    TrainingForm.lecture: StudyLogKind.lecture,
    TrainingForm.seminar: StudyLogKind.seminar,
    TrainingForm.study_tour: StudyLogKind.study_tour,
}


@dataclass(frozen=True)
class EnrollmentOutcome:
    enrollment_id: uuid.UUID
    cadre_id: uuid.UUID
    status: EnrollmentStatus
    leave_hours: Decimal
    leave_cap: Decimal
    leave_exception_reason: str | None
    hours: Decimal
    days: Decimal
    study_log_id: uuid.UUID | None
    explanation: str


def log_kind(ts: TrainingSession) -> StudyLogKind:
    if ts.centralised:
        return StudyLogKind.centralised_training
    return _KIND_OF_FORM.get(ts.form, StudyLogKind.seminar)


async def close_session(
    db_session: AsyncSession, ts: TrainingSession, actor: Actor
) -> list[EnrollmentOutcome]:
    """`ts` must have been loaded FOR UPDATE: a second, concurrent close waits, then is refused."""
    await check_manages(db_session, ts, actor)
    if ts.status == SessionStatus.closed:
        raise AlreadyClosed()
    if ts.status not in (SessionStatus.open, SessionStatus.running):
        raise InvalidStatusTransition(f"A {ts.status.value} session cannot be closed.")
    try:
        study_log_rules.check_not_in_future(ts.end_date, local_today())
    except study_log_rules.EndsInFuture as exc:
        raise SessionNotEnded(
            f"The session {exc}: its study logs would record days still to come."
        ) from None
    try:
        policy = policy_in_force(await load_policies(db_session), ts.end_date)
    except NoPolicyInForce as exc:
        raise NoPolicyForDate(str(exc)) from exc
    enrollments = (
        await db_session.scalars(
            select(Enrollment)
            .where(
                Enrollment.training_session_id == ts.id,
                Enrollment.status.in_(ACTIVE_ENROLLMENT_STATUSES),
            )
            .order_by(Enrollment.id)
            .with_for_update()
        )
    ).all()
    now = datetime.now(UTC)
    outcomes = []
    for enrollment in enrollments:
        outcome = engine.close_outcome(
            ts.credit_hours,
            ts.days,
            enrollment.leave_hours,
            policy,
            leave_exception=enrollment.leave_exception_reason,
        )
        enrollment.status = outcome.status
        log_id = None
        if outcome.issues_log:
            log = StudyLog(
                id=new_id(),
                cadre_id=enrollment.cadre_id,
                kind=log_kind(ts),
                title=ts.title,
                provider=ts.provider,
                start_date=ts.start_date,
                end_date=ts.end_date,
                hours=outcome.hours,
                # Stored with two places; the exact figure is in the explanation.
                days=engine.q2(outcome.days),
                status=StudyLogStatus.approved,
                source=StudyLogSource.session,
                training_session_id=ts.id,
                enrollment_id=enrollment.id,
                reviewed_at=now,
                review_comment="issued by closing the session",
            )
            db_session.add(log)
            log_id = log.id
        outcomes.append(
            EnrollmentOutcome(
                enrollment_id=enrollment.id,
                cadre_id=enrollment.cadre_id,
                status=outcome.status,
                leave_hours=enrollment.leave_hours,
                leave_cap=outcome.leave_cap,
                leave_exception_reason=enrollment.leave_exception_reason,
                hours=outcome.hours,
                days=outcome.days,
                study_log_id=log_id,
                explanation=outcome.explanation,
            )
        )
    ts.status = SessionStatus.closed
    ts.enrolled = 0  # nobody is enrolled or confirmed any more
    # One flush: one INSERT of all issued logs, one pass of the year-sum triggers.
    await db_session.flush()
    return outcomes
