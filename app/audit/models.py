import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin
from app.db_types import enum_column
from app.enums import AuditAction, Role


class AuditEvent(IdMixin, Base):
    """Written by the database: the audit trigger of every audited table (migration 0013) adds
    a row for each row a statement creates, changes or deletes, with the actor and the request
    ids (the server's own, and the client's `X-Request-ID` beside it) `app.db.attribute` set for
    the transaction. Append-only: a trigger in the
    database refuses UPDATE, DELETE and TRUNCATE. No foreign keys, so the trail outlives what
    it describes."""

    __tablename__ = "audit_event"

    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    actor_id: Mapped[uuid.UUID | None]
    actor_username: Mapped[str | None] = mapped_column(String(64))
    actor_role: Mapped[Role | None] = mapped_column(enum_column(Role))
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_request_id: Mapped[str | None] = mapped_column(String(128))  # migration 0015
    action: Mapped[AuditAction] = mapped_column(enum_column(AuditAction))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID]
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)

    __table_args__ = (
        Index("ix_audit_event_entity", "entity_type", "entity_id"),
        Index("ix_audit_event_actor_id", "actor_id"),
        Index("ix_audit_event_occurred_at", "occurred_at"),
    )
