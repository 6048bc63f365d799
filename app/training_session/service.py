"""Session lifecycle: draft → open → running → closed | cancelled."""

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.clock import local_today
from app.enums import SessionStatus, StudyLogKind, TrainingForm
from app.errors import ProblemFieldError
from app.i18n import N_, _
from app.org_unit import repository as org_units
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.pagination import PageParams, paginate
from app.schema_types import quantize
from app.study_log import rules as study_log_rules
from app.training_session import repository
from app.training_session.errors import (
    AlreadyClosed,
    CapacityBelowEnrolled,
    InvalidSessionDates,
    InvalidStatusTransition,
    NotSessionOrganiser,
    PartOutsideDates,
    PartsHoursMismatch,
    SessionFull,
    SessionImmutable,
    SessionNotEnded,
    TrainingSessionNotFound,
)
from app.training_session.models import TrainingSession
from app.training_session.schemas import TrainingSessionCreate, TrainingSessionUpdate

# Moves a PATCH may make; `closed` only by closing the session (docs/rules.md rule 7).
_TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.draft: frozenset({SessionStatus.open, SessionStatus.cancelled}),
    SessionStatus.open: frozenset(
        {SessionStatus.draft, SessionStatus.running, SessionStatus.cancelled}
    ),
    SessionStatus.running: frozenset({SessionStatus.cancelled}),
    SessionStatus.closed: frozenset(),
    SessionStatus.cancelled: frozenset(),
}
FINAL_STATUSES = frozenset({SessionStatus.closed, SessionStatus.cancelled})

# The study-log kind a completed session issues, when the session is not centralised.
_KIND_OF_FORM = {
    TrainingForm.online_class: StudyLogKind.online_course,
    TrainingForm.lecture: StudyLogKind.lecture,
    TrainingForm.seminar: StudyLogKind.seminar,
    TrainingForm.study_tour: StudyLogKind.study_tour,
}


async def get_training_session(
    db_session: AsyncSession,
    training_session_id: uuid.UUID,
    actor: Actor,
    *,
    for_update: bool = False,
) -> TrainingSession:
    found = await repository.get(db_session, training_session_id, actor, for_update=for_update)
    if found is None:
        raise TrainingSessionNotFound()
    return found


async def check_manages(db_session: AsyncSession, ts: TrainingSession, actor: Actor) -> None:
    """Visible is not enough to change a session: it must be organised inside the actor's tree."""
    if not await repository.is_managed(db_session, ts.id, actor):
        raise NotSessionOrganiser()


def take_place(ts: TrainingSession) -> None:
    """One more enrolled or confirmed trainee; `ts` must have been loaded FOR UPDATE."""
    if ts.enrolled >= ts.capacity:
        raise SessionFull(_("All {capacity} places are taken.").format(capacity=ts.capacity))
    ts.enrolled += 1


def release_place(ts: TrainingSession) -> None:
    ts.enrolled -= 1


def check_closable(ts: TrainingSession) -> None:
    """docs/rules.md rule 7 and rule 10: an open or running session closes once, and not before
    its last day (the logs it issues end then, and no log ends after today)."""
    if ts.status == SessionStatus.closed:
        raise AlreadyClosed()
    if ts.status not in (SessionStatus.open, SessionStatus.running):
        raise InvalidStatusTransition(
            _("A {status} session cannot be closed.").format(status=ts.status.value)
        )
    try:
        study_log_rules.check_not_in_future(ts.end_date, local_today())
    except study_log_rules.EndsInFuture as exc:
        raise SessionNotEnded(
            _("The session {reason}: its study logs would record days still to come.").format(
                reason=exc
            )
        ) from None


def mark_closed(ts: TrainingSession, *, force_reason: str | None = None) -> None:
    ts.status = SessionStatus.closed
    ts.close_force_reason = force_reason
    ts.enrolled = 0  # nobody is enrolled or confirmed any more


def log_kind(ts: TrainingSession) -> StudyLogKind:
    """The study-log kind a completed trainee of the session receives."""
    if ts.centralised:
        return StudyLogKind.centralised_training
    return _KIND_OF_FORM.get(ts.form, StudyLogKind.seminar)


async def create_training_session(
    db_session: AsyncSession, data: TrainingSessionCreate, actor: Actor
) -> TrainingSession:
    if await org_units.get(db_session, data.organiser_org_unit_id, actor) is None:
        raise ReferencedOrgUnitNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/organiser_org_unit_id",
                    detail="no such org unit",
                    code="not_found",
                )
            ]
        )
    ts = TrainingSession(**data.model_dump(), enrolled=0)
    db_session.add(ts)
    await db_session.flush()
    return ts


async def update_training_session(
    db_session: AsyncSession, ts: TrainingSession, data: TrainingSessionUpdate, actor: Actor
) -> TrainingSession:
    await check_manages(db_session, ts, actor)
    changes: dict[str, Any] = {
        k: v
        for k, v in data.model_dump(exclude_unset=True).items()
        if (v is not None or k == "provider") and getattr(ts, k) != v
    }
    if not changes:
        return ts
    if ts.status in FINAL_STATUSES:
        raise SessionImmutable()
    new_status = changes.get("status")
    if new_status is not None and new_status not in _TRANSITIONS[ts.status]:
        raise InvalidStatusTransition(
            _("{current} → {new} is not allowed.").format(
                current=ts.status.value, new=new_status.value
            )
        )
    start = changes.get("start_date", ts.start_date)
    end = changes.get("end_date", ts.end_date)
    days = changes.get("days", ts.days)
    if end < start or days > (end - start).days + 1:
        raise InvalidSessionDates(
            N_("end_date must not precede start_date, and days must fit in the calendar days.")
        )
    await _check_parts_still_fit(
        db_session, ts, changes.get("credit_hours", ts.credit_hours), start, end
    )
    if changes.get("capacity", ts.capacity) < ts.enrolled:
        raise CapacityBelowEnrolled(_("{count} cadres are enrolled.").format(count=ts.enrolled))
    for field, value in changes.items():
        setattr(ts, field, value)
    await db_session.flush()
    return ts


async def _check_parts_still_fit(
    db_session: AsyncSession, ts: TrainingSession, credit_hours: Decimal, start: date, end: date
) -> None:
    """A PATCH of the session's hours or dates keeps its parts valid (docs/rules.md rule 11)."""
    parts = await repository.parts_of(db_session, ts.id)
    if not parts:
        return
    total = sum((p.credit_hours for p in parts), Decimal(0))
    if total != credit_hours:
        raise PartsHoursMismatch(
            _("The parts add up to {total} hours; replace the parts first.").format(
                total=quantize(total)
            )
        )
    if any(not start <= p.part_date <= end for p in parts):
        raise PartOutsideDates(_("A part lies outside the new dates; replace the parts first."))


async def list_training_sessions(
    db_session: AsyncSession,
    actor: Actor,
    page: PageParams,
    *,
    organiser_org_unit_id: uuid.UUID | None,
    status: SessionStatus | None,
    form: TrainingForm | None,
    centralised: bool | None,
    starts_from: date | None,
    starts_to: date | None,
) -> tuple[list[TrainingSession], str | None]:
    """A page of the sessions the actor may see; an organiser unit out of scope is 404."""
    organiser = None
    if organiser_org_unit_id is not None:
        organiser = await org_units.get(db_session, organiser_org_unit_id, actor)
        if organiser is None:
            raise OrgUnitNotFound()
    stmt = repository.list_query(
        actor,
        organiser=organiser,
        status=status,
        form=form,
        centralised=centralised,
        starts_from=starts_from,
        starts_to=starts_to,
    )
    return await paginate(db_session, stmt, TrainingSession.id, page)
