"""The audit trail, written by one mechanism: a `before_flush` hook records every insert,
update and delete of the session's objects, in the same transaction as the change. Who and which
request come from `db_session.info`, set by `app.security.authorize` (or the CLI)."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

from app.audit.models import AuditEvent
from app.change_feed import service as change_feed
from app.change_feed.models import ChangeEvent
from app.copy import copy_rows, jsonb
from app.db import Base
from app.enums import AuditAction
from app.ids import new_id

# Never copied into the trail: secrets, ciphertext, and bookkeeping columns.
_HIDDEN = {
    "password_hash": "<changed>",
    "id_number_ciphertext": None,
    "id_number_hash": "<changed>",
    "secret_ciphertext": "<changed>",
    "previous_secret_ciphertext": "<changed>",
}
# Hidden columns are reported under the name of what they hide.
_FIELD_NAMES = {
    "id_number_hash": "id_number",
    "secret_ciphertext": "secret",
    "previous_secret_ciphertext": "previous_secret",
}
_SKIPPED = {"version", "created_at", "updated_at", "request_fingerprint", "failed_logins"}


def to_json(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | uuid.UUID | date | datetime):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


def _field(key: str) -> str:
    return _FIELD_NAMES.get(key, key)


def record(
    db_session: Session,
    *,
    action: AuditAction,
    entity_type: str,
    entity_id: uuid.UUID,
    changes: dict[str, Any],
) -> None:
    change_feed.emit(
        db_session, action=action, entity_type=entity_type, entity_id=entity_id, changes=changes
    )
    actor = db_session.info.get("actor")
    db_session.add(
        AuditEvent(
            id=new_id(),
            actor_id=getattr(actor, "user_id", None),
            actor_username=getattr(actor, "username", None),
            actor_role=getattr(actor, "role", None),
            request_id=db_session.info.get("request_id"),
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            changes=changes,
        )
    )


def _created(obj: Base) -> dict[str, Any]:
    state = inspect(obj)
    out: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in _SKIPPED or key == "id" or key == "id_number_ciphertext":
            continue
        value = getattr(obj, key)
        if value is None:
            continue
        out[_field(key)] = _HIDDEN[key] if key in _HIDDEN else to_json(value)
    return out


def _updated(obj: Base) -> dict[str, Any]:
    state = inspect(obj)
    out: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in _SKIPPED or key == "id_number_ciphertext":
            continue
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else None
        after = history.added[0] if history.added else None
        if before == after:
            continue
        if key in _HIDDEN:
            out[_field(key)] = _HIDDEN[key]
        else:
            out[key] = {"before": to_json(before), "after": to_json(after)}
    return out


def _before_flush(db_session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    for obj in list(db_session.new):
        if isinstance(obj, AuditEvent | ChangeEvent) or not isinstance(obj, Base):
            continue
        if getattr(obj, "id", None) is None:
            obj.id = new_id()  # type: ignore[attr-defined]
        record(
            db_session,
            action=AuditAction.create,
            entity_type=type(obj).__tablename__,
            entity_id=obj.id,  # type: ignore[attr-defined]
            changes=_created(obj),
        )
    for obj in list(db_session.dirty):
        if isinstance(obj, AuditEvent | ChangeEvent) or not isinstance(obj, Base):
            continue
        if not db_session.is_modified(obj, include_collections=False):
            continue
        changes = _updated(obj)
        if changes:
            record(
                db_session,
                action=AuditAction.update,
                entity_type=type(obj).__tablename__,
                entity_id=obj.id,  # type: ignore[attr-defined]
                changes=changes,
            )
    for obj in list(db_session.deleted):
        if isinstance(obj, Base) and not isinstance(obj, AuditEvent | ChangeEvent):
            record(
                db_session,
                action=AuditAction.delete,
                entity_type=type(obj).__tablename__,
                entity_id=obj.id,  # type: ignore[attr-defined]
                changes={},
            )


def install() -> None:
    """Idempotent: registers the hook on every ORM session of the process."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)


async def record_many(
    db_session: AsyncSession,
    *,
    action: AuditAction,
    entity_type: str,
    rows: list[tuple[uuid.UUID, dict[str, Any]]],
) -> None:
    """The audit rows (and change-feed events) of a bulk write that bypassed the ORM, copied in
    set-wise in the same transaction."""
    if not rows:
        return
    actor = db_session.info.get("actor")
    request_id = db_session.info.get("request_id")
    actor_id = getattr(actor, "user_id", None)
    username = getattr(actor, "username", None)
    role = getattr(actor, "role", None)
    await copy_rows(
        db_session,
        "audit_event",
        (
            "id",
            "actor_id",
            "actor_username",
            "actor_role",
            "request_id",
            "action",
            "entity_type",
            "entity_id",
            "changes",
        ),
        [
            (
                new_id(),
                actor_id,
                username,
                role.value if role else None,
                request_id,
                action.value,
                entity_type,
                entity_id,
                jsonb(changes),
            )
            for entity_id, changes in rows
        ],
    )
    if entity_type in change_feed.FEED_ENTITIES:
        await copy_rows(
            db_session,
            "change_event",
            ("action", "entity_type", "entity_id", "changes", "request_id"),
            [
                (action.value, entity_type, entity_id, jsonb(changes), request_id)
                for entity_id, changes in rows
            ],
        )
