"""Session lifecycle: draft → open → running → closed | cancelled (SPEC §4)."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import scope
from app.actor import Actor
from app.enums import SessionStatus
from app.errors import ProblemFieldError
from app.org_unit import repository as org_units
from app.org_unit.errors import ReferencedOrgUnitNotFound
from app.training_session import repository
from app.training_session.errors import (
    CapacityBelowEnrolled,
    InvalidSessionDates,
    InvalidStatusTransition,
    NotSessionOrganiser,
    SessionImmutable,
    TrainingSessionNotFound,
)
from app.training_session.models import TrainingSession
from app.training_session.schemas import TrainingSessionCreate, TrainingSessionUpdate

# Moves a PATCH may make; `closed` only through close_session (SPEC §3 rule 7).
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
    managed = await db_session.scalar(
        select(TrainingSession.id).where(
            TrainingSession.id == ts.id,
            scope.sessions_managed(TrainingSession.organiser_org_unit_id, actor),
        )
    )
    if managed is None:
        raise NotSessionOrganiser()


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
        raise InvalidStatusTransition(f"{ts.status.value} → {new_status.value} is not allowed.")
    start = changes.get("start_date", ts.start_date)
    end = changes.get("end_date", ts.end_date)
    days = changes.get("days", ts.days)
    if end < start or days > (end - start).days + 1:
        raise InvalidSessionDates(
            "end_date must not precede start_date, and days must fit in the calendar days."
        )
    if changes.get("capacity", ts.capacity) < ts.enrolled:
        raise CapacityBelowEnrolled(f"{ts.enrolled} cadres are enrolled.")
    for field, value in changes.items():
        setattr(ts, field, value)
    await db_session.flush()
    return ts
