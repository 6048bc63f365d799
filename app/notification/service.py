"""Notifications to cadres (docs/notifications.md).

The domains that cause an event call `notify` or `notify_enrollees` with the database session
of their own transaction: the notification is written with its cause, or not at all. Each has
a `dedupe_key`; a key already written adds nothing (a retried cause, the job run twice)."""

import base64
import binascii
import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.clock import now
from app.enums import NotificationKind
from app.errors import ProblemFieldError, UnprocessableEntity
from app.i18n import N_
from app.notification import repository
from app.notification.errors import NotificationNotFound
from app.notification.models import Notification


def _json_value(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def _params(params: Mapping[str, object]) -> dict[str, Any]:
    return {key: _json_value(value) for key, value in params.items()}


async def notify(
    db_session: AsyncSession,
    *,
    cadre_id: uuid.UUID,
    kind: NotificationKind,
    params: Mapping[str, object],
    dedupe_key: str,
    training_session_id: uuid.UUID | None = None,
    enrollment_id: uuid.UUID | None = None,
    cadre_qualification_id: uuid.UUID | None = None,
) -> bool:
    """Write one notification in the caller's transaction, unless its key exists; whether it
    was written."""
    return await repository.insert_one(
        db_session,
        {
            "cadre_id": cadre_id,
            "kind": kind,
            "params": _params(params),
            "dedupe_key": dedupe_key,
            "training_session_id": training_session_id,
            "enrollment_id": enrollment_id,
            "cadre_qualification_id": cadre_qualification_id,
        },
    )


async def notify_enrollees(
    db_session: AsyncSession,
    training_session_id: uuid.UUID,
    statuses: Collection[str],
    *,
    kind: NotificationKind,
    params: Mapping[str, object],
    key_prefix: str,
) -> int:
    """One notification to each enrollment of the session in `statuses`, keyed
    `<key_prefix>:<enrollment id>`, in one statement; how many were written."""
    return await repository.insert_for_enrollees(
        db_session,
        training_session_id,
        statuses,
        kind,
        json.dumps(_params(params), ensure_ascii=False),
        key_prefix,
    )


async def notify_many(
    db_session: AsyncSession, rows: Sequence[Mapping[str, object]], *, batch: int = 10_000
) -> int:
    """Write each of `rows` (the columns of `notify`) unless its key exists: one statement per
    `batch` rows; how many were written."""
    written = 0
    for start in range(0, len(rows), batch):
        chunk = [
            {key: _json_value(value) for key, value in row.items() if key != "params"}
            | {"params": _params(row["params"])}  # type: ignore[arg-type]
            for row in rows[start : start + batch]
        ]
        written += await repository.insert_many(db_session, json.dumps(chunk, ensure_ascii=False))
    return written


# --- the reminder job's set-based rules -------------------------------------------------------


async def remind_session_starting(db_session: AsyncSession, today: date, days: int) -> int:
    return await repository.remind_session_starting(db_session, today, days)


async def remind_evaluation_open(db_session: AsyncSession, today: date) -> int:
    return await repository.remind_evaluation_open(db_session, today)


async def remind_qualification_expiring(
    db_session: AsyncSession, today: date, expiring_days: int
) -> int:
    return await repository.remind_qualification_expiring(db_session, today, expiring_days)


# --- the caller's own ------------------------------------------------------------------------


def encode_cursor(last: Notification) -> str:
    flag = "u" if last.read_at is None else "r"
    return flag + base64.urlsafe_b64encode(last.id.bytes).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[bool, uuid.UUID]:
    try:
        if cursor[:1] not in ("u", "r"):
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor[1:] + "=" * (-len(cursor[1:]) % 4))
        return cursor[0] == "u", uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise UnprocessableEntity(
            N_("The cursor is not one this API returned."),
            errors=[
                ProblemFieldError(
                    pointer="/query/cursor", detail=N_("invalid cursor"), code="invalid_cursor"
                )
            ],
        ) from exc


@dataclass(frozen=True)
class NotificationList:
    items: list[Notification]
    next_cursor: str | None
    unread_count: int


async def list_mine(
    db_session: AsyncSession,
    actor: Actor,
    *,
    unread_only: bool,
    kind: NotificationKind | None,
    limit: int,
    cursor: str | None,
) -> NotificationList:
    after = None if cursor is None else decode_cursor(cursor)
    rows = await repository.page(
        db_session, actor, unread_only=unread_only, kind=kind, after=after, limit=limit + 1
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1])
    return NotificationList(rows, next_cursor, await repository.unread_count(db_session, actor))


async def mark_read(
    db_session: AsyncSession, notification_id: uuid.UUID, actor: Actor
) -> Notification:
    """Mark one of the caller's notifications read (again: unchanged); 404 for another's."""
    found = await repository.get(db_session, notification_id, actor)
    if found is None:
        raise NotificationNotFound()
    if found.read_at is None:
        found.read_at = now()
        await db_session.flush()
    return found


async def mark_all_read(db_session: AsyncSession, actor: Actor) -> int:
    return await repository.mark_all_read(db_session, actor, now())
