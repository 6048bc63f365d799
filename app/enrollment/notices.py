"""The notifications an enrollment's change writes, in its own transaction (docs/notifications.md):
nominated, waitlisted, promoted from the waitlist. Keyed by the enrollment and its version, so
each change notifies once and a later one (a new nomination on the same row) again."""

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from app.enrollment.models import Enrollment
from app.enums import NotificationKind
from app.notification import service as notifications
from app.training_session.models import TrainingSession


async def notify(
    db_session: AsyncSession,
    ts: TrainingSession,
    enrollments: Iterable[Enrollment],
    kind: NotificationKind,
) -> None:
    """Notify each enrollment's cadre of `kind` (the rows flushed first: the version counts)."""
    await db_session.flush()
    for enrollment in enrollments:
        await notifications.notify(
            db_session,
            cadre_id=enrollment.cadre_id,
            kind=kind,
            params={
                "session_title": ts.title,
                "start_date": ts.start_date,
                "end_date": ts.end_date,
                "waitlist_position": enrollment.waitlist_position,
            },
            dedupe_key=f"{kind.value}:{enrollment.id}:{enrollment.version}",
            training_session_id=ts.id,
            enrollment_id=enrollment.id,
        )


# The status an enrollment's change leaves it in → what its cadre hears.
ON_STATUS = {
    "nominated": NotificationKind.nominated,
    "waitlisted": NotificationKind.waitlisted,
}


async def notify_status(
    db_session: AsyncSession, ts: TrainingSession, enrollment: Enrollment
) -> None:
    kind = ON_STATUS.get(enrollment.status.value)
    if kind is not None:
        await notify(db_session, ts, [enrollment], kind)
