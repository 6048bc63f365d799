"""Session lifecycle: draft → open → running → closed | cancelled."""

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from app.actor import Actor
from app.clock import local_today
from app.enums import (
    SEAT_HOLDING_STATUSES,
    EnrollmentStatus,
    NotificationKind,
    OrgUnitKind,
    SessionStatus,
    StudyLogKind,
    TrainingForm,
)
from app.errors import ProblemFieldError
from app.i18n import N_, _
from app.notification import service as notifications
from app.org_unit import repository as org_units
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.org_unit.models import OrgUnit
from app.pagination import PageParams, paginate
from app.schema_types import quantize
from app.study_log import rules as study_log_rules
from app.training_plan import service as plans
from app.training_session import repository
from app.training_session.errors import (
    AlreadyClosed,
    AudienceUnitOutOfReach,
    CapacityBelowEnrolled,
    InvalidSessionDates,
    InvalidStatusTransition,
    NotSessionOrganiser,
    PartOutsideDates,
    PartsHoursMismatch,
    QuotaBelowSeats,
    QuotasExceedCapacity,
    SessionFull,
    SessionImmutable,
    SessionNotEnded,
    TrainingSessionNotFound,
)
from app.training_session.models import SessionAudience, TrainingSession
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
# Fields a PATCH may set to null.
_NULLABLE = frozenset({"provider", "plan_item_id"})
FINAL_STATUSES = frozenset({SessionStatus.closed, SessionStatus.cancelled})
# The changes its trainees are told of (the parts' days and times: app.training_session.parts).
_NOTIFIED_CHANGES = frozenset({"start_date", "end_date"})

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
    # The day its evaluation opens unless opened early (docs/rules.md rule 14).
    ts.closed_on = local_today()
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
    if data.plan_item_id is not None:
        await plans.check_item_usable(
            db_session,
            data.plan_item_id,
            data.organiser_org_unit_id,
            year=data.start_date.year,
        )
    ts = TrainingSession(**data.model_dump(), enrolled=0)
    db_session.add(ts)
    await db_session.flush()
    organiser = await org_units.get(db_session, data.organiser_org_unit_id)
    assert organiser is not None  # seen above
    db_session.add(
        SessionAudience(training_session_id=ts.id, org_unit_id=default_audience(organiser))
    )
    await db_session.flush()
    return ts


async def update_training_session(
    db_session: AsyncSession, ts: TrainingSession, data: TrainingSessionUpdate, actor: Actor
) -> TrainingSession:
    await check_manages(db_session, ts, actor)
    changes: dict[str, Any] = {
        k: v
        for k, v in data.model_dump(exclude_unset=True).items()
        if (v is not None or k in _NULLABLE) and getattr(ts, k) != v
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
    plan_item_id = changes.get("plan_item_id", ts.plan_item_id)
    if plan_item_id is not None and ("plan_item_id" in changes or "start_date" in changes):
        await plans.check_item_usable(
            db_session, plan_item_id, ts.organiser_org_unit_id, year=start.year
        )
    if "capacity" in changes:
        audience = await repository.audience_of(db_session, ts.id)
        _check_quotas_fit(changes["capacity"], [a.seat_quota for a, _path in audience])
    for field, value in changes.items():
        setattr(ts, field, value)
    await db_session.flush()
    if changes.get("status") == SessionStatus.cancelled:
        await notify_enrollees(db_session, ts, NotificationKind.session_cancelled)
    elif _NOTIFIED_CHANGES & changes.keys():
        await notify_enrollees(db_session, ts, NotificationKind.session_changed)
    return ts


async def give_default_audiences(db_session: AsyncSession) -> int:
    """Bulk loads (the demo) write sessions row-free of their audience: each session without one
    gets the default (docs/rules.md rule 11). The number of sessions given one."""
    missing = await repository.without_audience(db_session)
    db_session.add_all(
        SessionAudience(training_session_id=session_id, org_unit_id=unit_id)
        for session_id, unit_id in missing
    )
    await db_session.flush()
    return len(missing)


def default_audience(organiser: OrgUnit) -> uuid.UUID:
    """docs/rules.md rule 11: a department's class is for the unit above it (a class of
    市委组织部 is for the whole city); any other unit's class for its own subtree."""
    if organiser.kind == OrgUnitKind.department and organiser.parent_id is not None:
        return organiser.parent_id
    return organiser.id


def _check_quotas_fit(capacity: int, quotas: list[int | None]) -> None:
    """docs/rules.md rule 11: the seat quotas add up to no more than the capacity."""
    total = sum(q for q in quotas if q is not None)
    if total > capacity:
        raise QuotasExceedCapacity(
            _("The quotas add up to {total}; the capacity is {capacity}.").format(
                total=total, capacity=capacity
            )
        )


@dataclass(frozen=True)
class AudienceEntry:
    org_unit_id: uuid.UUID
    seat_quota: int | None


async def audience_of(
    db_session: AsyncSession, ts: TrainingSession
) -> list[tuple[SessionAudience, str]]:
    """The session's audience units with their paths, deepest first (the unit a cadre falls
    under is the first whose subtree holds it)."""
    return await repository.audience_of(db_session, ts.id)


def audience_unit_of(
    audience: list[tuple[SessionAudience, str]], cadre_unit_path: str
) -> SessionAudience | None:
    """The deepest audience unit whose subtree holds the cadre's unit; None outside them."""
    for unit, path in audience:
        if cadre_unit_path.startswith(path):
            return unit
    return None


async def _check_in_reach(
    db_session: AsyncSession, ts: TrainingSession, entries: list[AudienceEntry], actor: Actor
) -> None:
    """An audience unit lies in the subtree of the default audience, or in the actor's own
    scope."""
    organiser = await org_units.get(db_session, ts.organiser_org_unit_id)
    assert organiser is not None  # FK
    default = await org_units.get(db_session, default_audience(organiser))
    assert default is not None  # FK
    root = default.path
    for index, entry in enumerate(entries):
        unit = await org_units.get(db_session, entry.org_unit_id)
        if unit is not None and (
            unit.path.startswith(root)
            or await org_units.get(db_session, entry.org_unit_id, actor) is not None
        ):
            continue
        raise AudienceUnitOutOfReach(
            errors=[
                ProblemFieldError(
                    pointer=f"/body/units/{index}/org_unit_id",
                    detail="no such org unit in reach",
                    code="not_found",
                )
            ]
        )


async def set_audience(
    db_session: AsyncSession,
    ts: TrainingSession,
    entries: list[AudienceEntry],
    seats_taken: dict[uuid.UUID, int],
    actor: Actor,
) -> list[tuple[SessionAudience, str]]:
    """Replace the session's audience and quotas; `ts` loaded FOR UPDATE, `seats_taken` the seats
    held per audience unit (counted under that lock). docs/rules.md rule 11: the quotas fit the
    capacity, and no unit's quota (0 for a unit removed) goes below the seats it holds."""
    await check_manages(db_session, ts, actor)
    if ts.status in FINAL_STATUSES:
        raise SessionImmutable()
    await _check_in_reach(db_session, ts, entries, actor)
    _check_quotas_fit(ts.capacity, [e.seat_quota for e in entries])
    wanted = {e.org_unit_id: e for e in entries}
    for unit_id, taken in seats_taken.items():
        kept_entry = wanted.get(unit_id)
        quota = 0 if kept_entry is None else kept_entry.seat_quota
        if taken and quota is not None and quota < taken:
            raise QuotaBelowSeats(
                _("{count} seats are held by cadres of unit {unit}.").format(
                    count=taken, unit=unit_id
                )
            )
    current = await repository.audience_of(db_session, ts.id)
    kept = {a.org_unit_id: a for a, _path in current}
    await repository.delete_audience(
        db_session, [a for a, _path in current if a.org_unit_id not in wanted]
    )
    for entry in entries:
        row = kept.get(entry.org_unit_id)
        if row is None:
            db_session.add(
                SessionAudience(
                    training_session_id=ts.id,
                    org_unit_id=entry.org_unit_id,
                    seat_quota=entry.seat_quota,
                )
            )
        elif row.seat_quota != entry.seat_quota:
            row.seat_quota = entry.seat_quota
    flag_modified(ts, "title")  # a new version: the session's ETag covers its audience
    await db_session.flush()
    return await repository.audience_of(db_session, ts.id)


async def _check_parts_still_fit(
    db_session: AsyncSession, ts: TrainingSession, credit_hours: Decimal, start: date, end: date
) -> None:
    """A PATCH of the session's hours or dates keeps its parts valid (docs/rules.md rule 12)."""
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


# Who hears of a session's change or cancellation: everyone who expects to attend (a seat held,
# a nomination under review, a place on the waitlist). docs/notifications.md.
_EXPECTING = frozenset(s.value for s in (*SEAT_HOLDING_STATUSES, EnrollmentStatus.waitlisted))


async def notify_enrollees(
    db_session: AsyncSession, ts: TrainingSession, kind: NotificationKind
) -> int:
    """Tell the session's expected trainees it changed (dates, times, parts) or is cancelled,
    in the transaction of the change (`ts` flushed: its version keys the change)."""
    key = (
        f"session_cancelled:{ts.id}"
        if kind == NotificationKind.session_cancelled
        else f"session_changed:{ts.id}:{ts.version}"
    )
    return await notifications.notify_enrollees(
        db_session,
        ts.id,
        _EXPECTING,
        kind=kind,
        params={"session_title": ts.title, "start_date": ts.start_date, "end_date": ts.end_date},
        key_prefix=key,
    )
