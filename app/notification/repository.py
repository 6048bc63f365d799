"""Every query of the notification domain.

The event writers' fan-out and the reminder job's rules read enrollments, sessions, evaluations
and qualifications, which sit above this domain: through plain SQL over those tables, read only
(as the plan report reads sessions). Every write is `INSERT … ON CONFLICT (dedupe_key) DO
NOTHING`, so a key writes at most one notification however often its cause or the job runs."""

import uuid
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.enums import NotificationKind, Role
from app.ids import new_id
from app.notification.models import Notification


def readable(actor: Actor) -> ColumnElement[bool]:
    """A cadre's own notifications; nobody else's (the route is the cadre role's only)."""
    if actor.role != Role.cadre or actor.cadre_id is None:
        return func.false()
    return Notification.cadre_id == actor.cadre_id


async def insert_one(db_session: AsyncSession, values: Mapping[str, Any]) -> bool:
    """Write one notification unless its key exists; whether it was written."""
    stmt = (
        insert(Notification)
        .values(id=new_id(), version=1, **values)
        .on_conflict_do_nothing(index_elements=[Notification.dedupe_key])
        .returning(Notification.id)
    )
    return (await db_session.execute(stmt)).first() is not None


# Many notifications in one statement: the rows as ONE JSON array parameter (no per-row
# parameters to bind, no statement size limit to split under).
_FROM_JSON = text(
    """
INSERT INTO notification (id, version, cadre_id, kind, training_session_id, enrollment_id,
                          cadre_qualification_id, params, dedupe_key)
SELECT audit_uuid7(), 1, r.cadre_id, r.kind, r.training_session_id, r.enrollment_id,
       r.cadre_qualification_id, r.params, r.dedupe_key
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
    cadre_id uuid, kind text, training_session_id uuid, enrollment_id uuid,
    cadre_qualification_id uuid, params jsonb, dedupe_key text)
-- Keys written already are skipped by an anti-join (a rerun of the day checks them all);
-- ON CONFLICT still settles a key written meanwhile by a concurrent writer.
WHERE NOT EXISTS (SELECT 1 FROM notification n WHERE n.dedupe_key = r.dedupe_key)
ORDER BY r.dedupe_key
ON CONFLICT (dedupe_key) DO NOTHING
"""
)


async def insert_many(db_session: AsyncSession, rows_json: str) -> int:
    """Write each row of the JSON array unless its key exists; how many were written."""
    result = await db_session.execute(_FROM_JSON, {"rows": rows_json})
    return int(result.rowcount)  # type: ignore[attr-defined]


# The session's enrollees in `statuses`, one notification each, keyed `<prefix>:<enrollment id>`.
_FOR_ENROLLEES = text(
    """
INSERT INTO notification (id, version, cadre_id, kind, training_session_id, enrollment_id,
                          params, dedupe_key)
SELECT audit_uuid7(), 1, e.cadre_id, :kind, e.training_session_id, e.id,
       CAST(:params AS jsonb), :prefix || ':' || e.id::text
FROM enrollment e
WHERE e.training_session_id = :training_session_id AND e.status = ANY(:statuses)
ORDER BY e.id
ON CONFLICT (dedupe_key) DO NOTHING
"""
)


async def insert_for_enrollees(
    db_session: AsyncSession,
    training_session_id: uuid.UUID,
    statuses: Collection[str],
    kind: NotificationKind,
    params: str,
    key_prefix: str,
) -> int:
    result = await db_session.execute(
        _FOR_ENROLLEES,
        {
            "kind": kind.value,
            "training_session_id": training_session_id,
            "statuses": sorted(statuses),
            "params": params,
            "prefix": key_prefix,
        },
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- the reminder job's set-based rules (docs/notifications.md) ---------------------------------

# N days before a start: the active enrollees of a session starting within (today, today + N],
# once per enrollment and start day (a session moved to a new day reminds again).
_SESSION_STARTING = text(
    """
INSERT INTO notification (id, version, cadre_id, kind, training_session_id, enrollment_id,
                          params, dedupe_key)
SELECT audit_uuid7(), 1, e.cadre_id, 'session_starting', s.id, e.id,
       jsonb_build_object('session_title', s.title, 'start_date', s.start_date,
                          'end_date', s.end_date, 'days_before', s.start_date - :today),
       'session_starting:' || e.id::text || ':' || s.start_date::text
FROM training_session s
JOIN enrollment e ON e.training_session_id = s.id
JOIN cadre c ON c.id = e.cadre_id
WHERE s.start_date > :today AND s.start_date <= :last_day
  AND s.status IN ('draft', 'open', 'running')
  AND e.status IN ('enrolled', 'confirmed') AND c.status = 'active'
ORDER BY e.id
ON CONFLICT (dedupe_key) DO NOTHING
"""
)

# An evaluation open today (opened early, or opened by the session's close), for each enrollment
# that may answer it (docs/rules.md rule 14) and has not: once per evaluation and enrollment, the
# key the evaluation service writes when the organiser opens it early.
_EVALUATION_OPEN = text(
    """
INSERT INTO notification (id, version, cadre_id, kind, training_session_id, enrollment_id,
                          params, dedupe_key)
SELECT audit_uuid7(), 1, e.cadre_id, 'evaluation_opened', s.id, e.id,
       jsonb_build_object('session_title', s.title,
                          'closes_on', w.first_day + (v.open_days - 1)),
       'evaluation_opened:' || v.id::text || ':' || e.id::text
FROM session_evaluation v
JOIN training_session s ON s.id = v.training_session_id
CROSS JOIN LATERAL (SELECT COALESCE(v.opens_on, s.closed_on) AS first_day,
                           v.opens_on IS NOT NULL AND v.opens_on <= s.end_date AS early) AS w
JOIN enrollment e ON e.training_session_id = s.id
JOIN cadre c ON c.id = e.cadre_id
WHERE NOT v.closed AND s.status <> 'cancelled'
  AND w.first_day <= :today AND :today <= w.first_day + (v.open_days - 1)
  AND (e.status = 'completed'
       OR (w.early AND s.status <> 'closed' AND e.status IN ('enrolled', 'confirmed')))
  AND c.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM evaluation_answered a WHERE a.enrollment_id = e.id)
ORDER BY e.id
ON CONFLICT (dedupe_key) DO NOTHING
"""
)

# A qualification in its last `expiring_days` days (status `expiring`, docs/rules.md rule 13),
# not revoked and not renewed by a later one of the same type: once per qualification.
_QUALIFICATION_EXPIRING = text(
    """
INSERT INTO notification (id, version, cadre_id, kind, cadre_qualification_id, params,
                          dedupe_key)
SELECT audit_uuid7(), 1, q.cadre_id, 'qualification_expiring', q.id,
       jsonb_build_object('qualification_name', t.name, 'valid_until', q.valid_until),
       'qualification_expiring:' || q.id::text
FROM cadre_qualification q
JOIN qualification_type t ON t.id = q.qualification_type_id
JOIN cadre c ON c.id = q.cadre_id
WHERE q.revoked_at IS NULL AND q.valid_from <= :today AND q.valid_until >= :today
  AND q.valid_until - :today < :expiring_days AND c.status = 'active'
  AND NOT EXISTS (
      SELECT 1 FROM cadre_qualification r
      WHERE r.cadre_id = q.cadre_id AND r.qualification_type_id = q.qualification_type_id
        AND r.revoked_at IS NULL AND r.valid_until > q.valid_until)
ORDER BY q.id
ON CONFLICT (dedupe_key) DO NOTHING
"""
)


async def remind_session_starting(db_session: AsyncSession, today: date, days: int) -> int:
    result = await db_session.execute(
        _SESSION_STARTING, {"today": today, "last_day": date.fromordinal(today.toordinal() + days)}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def remind_evaluation_open(db_session: AsyncSession, today: date) -> int:
    result = await db_session.execute(_EVALUATION_OPEN, {"today": today})
    return int(result.rowcount)  # type: ignore[attr-defined]


async def remind_qualification_expiring(
    db_session: AsyncSession, today: date, expiring_days: int
) -> int:
    result = await db_session.execute(
        _QUALIFICATION_EXPIRING, {"today": today, "expiring_days": expiring_days}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- the caller's own ------------------------------------------------------------------------


def of_actor(
    actor: Actor, *, unread_only: bool, kind: NotificationKind | None = None
) -> Select[Notification]:
    stmt = select(Notification).where(readable(actor))
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    return stmt


async def page(
    db_session: AsyncSession,
    actor: Actor,
    *,
    unread_only: bool,
    kind: NotificationKind | None,
    after: tuple[bool, uuid.UUID] | None,
    limit: int,
) -> list[Notification]:
    """Unread first, then newest: keyset on (unread, id) both descending; `after` is the last
    row of the previous page (whether it was unread, its id)."""
    stmt = of_actor(actor, unread_only=unread_only, kind=kind)
    unread = Notification.read_at.is_(None)
    if after is not None:
        was_unread, last_id = after
        if was_unread:
            stmt = stmt.where((unread & (Notification.id < last_id)) | ~unread)
        else:
            stmt = stmt.where(~unread, Notification.id < last_id)
    stmt = stmt.order_by(unread.desc(), Notification.id.desc()).limit(limit)
    return list((await db_session.scalars(stmt)).all())


async def unread_count(db_session: AsyncSession, actor: Actor) -> int:
    stmt = (
        select(func.count())
        .select_from(Notification)
        .where(readable(actor), Notification.read_at.is_(None))
    )
    return int(await db_session.scalar(stmt) or 0)


async def get(
    db_session: AsyncSession, notification_id: uuid.UUID, actor: Actor
) -> Notification | None:
    stmt = select(Notification).where(Notification.id == notification_id, readable(actor))
    return (await db_session.scalars(stmt.with_for_update())).one_or_none()


async def mark_all_read(db_session: AsyncSession, actor: Actor, at: datetime) -> int:
    stmt = (
        update(Notification)
        .where(readable(actor), Notification.read_at.is_(None))
        .values(read_at=at, version=Notification.version + 1, updated_at=func.now())
    )
    result = await db_session.execute(stmt.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
