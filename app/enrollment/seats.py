"""Seat accounting (docs/rules.md rule 11): audiences and their quotas, the waitlist and its
promotion. Every function runs under the session's row lock (`ts` loaded FOR UPDATE), so the
counts it reads cannot change under it; the session's `enrolled` counter and its CHECK
(`enrolled <= capacity`) back the capacity in the database."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.enrollment import notices, repository
from app.enrollment.errors import QuotaReached
from app.enrollment.models import Enrollment
from app.enums import EnrollmentOrigin, EnrollmentStatus, NotificationKind, SessionStatus
from app.i18n import _
from app.org_unit import repository as org_units
from app.training_session import service as session_service
from app.training_session.models import SessionAudience, TrainingSession
from app.training_session.schemas import AudienceUpdate

# Sessions whose waitlist moves: a closed or cancelled session seats nobody any more.
_PROMOTING = frozenset({SessionStatus.draft, SessionStatus.open, SessionStatus.running})


@dataclass(frozen=True)
class Placement:
    """The audience unit a cadre falls under (the deepest holding its unit), and its quota."""

    audience_org_unit_id: uuid.UUID | None
    seat_quota: int | None


async def placement(
    db_session: AsyncSession, ts: TrainingSession, org_unit_id: uuid.UUID
) -> Placement:
    unit = await org_units.get(db_session, org_unit_id)
    assert unit is not None  # FK
    audience = await session_service.audience_of(db_session, ts)
    found = session_service.audience_unit_of(audience, unit.path)
    if found is None:
        return Placement(None, None)
    return Placement(found.org_unit_id, found.seat_quota)


def has_room(place: Placement, taken: dict[uuid.UUID, int]) -> bool:
    if place.audience_org_unit_id is None or place.seat_quota is None:
        return True
    return taken.get(place.audience_org_unit_id, 0) < place.seat_quota


async def check_quota(db_session: AsyncSession, ts: TrainingSession, place: Placement) -> None:
    """The unit's quota has a free seat (the capacity is the session's to check)."""
    taken = await repository.seats_by_audience(db_session, ts.id)
    if not has_room(place, taken):
        raise QuotaReached(
            _("All {quota} seats of the unit are held.").format(quota=place.seat_quota)
        )


def seated_status(origin: EnrollmentOrigin) -> EnrollmentStatus:
    """The status an enrollment takes with its seat: a nomination awaits the review."""
    return (
        EnrollmentStatus.nominated
        if origin == EnrollmentOrigin.nomination
        else (EnrollmentStatus.enrolled)
    )


async def join_waitlist(
    db_session: AsyncSession, ts: TrainingSession, enrollment: Enrollment
) -> None:
    enrollment.status = EnrollmentStatus.waitlisted
    enrollment.waitlist_position = await repository.last_waitlist_position(db_session, ts.id) + 1


async def release_seat(db_session: AsyncSession, ts: TrainingSession) -> list[Enrollment]:
    """A seat was freed (the enrollment's new status is set, the session's count not yet): the
    first waitlisted enrollment whose unit's quota allows takes it, else the count drops. A
    promotion is an update of the enrollment row, so the trail and the change feed carry it;
    the session's count does not move then."""
    await db_session.flush()  # the freed seat's new status, before the seats are counted
    promoted = await _promote(db_session, ts, spare=ts.capacity - ts.enrolled + 1)
    ts.enrolled += len(promoted) - 1
    if promoted:
        await notices.notify(db_session, ts, promoted, NotificationKind.promoted_from_waitlist)
    return promoted


async def settle(db_session: AsyncSession, ts: TrainingSession) -> list[Enrollment]:
    """Seat the waitlist, in order and within the quotas, as far as the free seats allow (a
    raised capacity left seats free): done before anyone new takes a seat, so nobody jumps
    the queue."""
    promoted = await _promote(db_session, ts, spare=ts.capacity - ts.enrolled)
    ts.enrolled += len(promoted)
    await db_session.flush()
    if promoted:
        await notices.notify(db_session, ts, promoted, NotificationKind.promoted_from_waitlist)
    return promoted


async def _promote(db_session: AsyncSession, ts: TrainingSession, spare: int) -> list[Enrollment]:
    """Seat waitlisted enrollments in order while `spare` seats are free, skipping those whose
    unit's quota is full (they keep their place)."""
    if ts.status not in _PROMOTING or spare <= 0:
        return []
    taken = await repository.seats_by_audience(db_session, ts.id)
    quotas = {
        u.org_unit_id: u.seat_quota for u, _ in await session_service.audience_of(db_session, ts)
    }
    promoted: list[Enrollment] = []
    for waiting in await repository.waitlisted_for_update(db_session, ts.id):
        if len(promoted) >= spare:
            break
        unit_id = waiting.audience_org_unit_id
        quota = None if unit_id is None else quotas.get(unit_id)
        if not has_room(Placement(unit_id, quota), taken):
            continue
        waiting.status = seated_status(waiting.origin)
        waiting.waitlist_position = None
        if unit_id is not None:
            taken[unit_id] = taken.get(unit_id, 0) + 1
        promoted.append(waiting)
    return promoted


async def audience(
    db_session: AsyncSession, ts: TrainingSession
) -> list[tuple[SessionAudience, int]]:
    """The session's audience units with the seats each one's cadres hold."""
    taken = await repository.seats_by_audience(db_session, ts.id)
    return [
        (unit, taken.get(unit.org_unit_id, 0))
        for unit, _path in await session_service.audience_of(db_session, ts)
    ]


async def set_audience(
    db_session: AsyncSession, ts: TrainingSession, data: AudienceUpdate, actor: Actor
) -> list[tuple[SessionAudience, int]]:
    """Replace the audience and its quotas (`ts` loaded FOR UPDATE): the training session
    domain writes them, given the seats held now. Enrollments keep the audience unit they were
    counted under; a unit that holds seats cannot leave the audience. Free seats then go to the
    waitlist, in order, as far as the new quotas allow."""
    taken = await repository.seats_by_audience(db_session, ts.id)
    entries = [session_service.AudienceEntry(u.org_unit_id, u.seat_quota) for u in data.units]
    await session_service.set_audience(db_session, ts, entries, taken, actor)
    # A quota raised (or a unit's quota lifted) may unblock waiting enrollments of that unit.
    await settle(db_session, ts)
    return await audience(db_session, ts)
