import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.db_types import enum_column
from app.enums import AuditAction


class ChangeEvent(Base):
    """One committed change, written in the same transaction as the change (outbox).

    `xid` is the writing transaction's id: a reader returns only events of transactions older
    than every transaction still running (`pg_snapshot_xmin`), so one that commits late can
    never be skipped by a cursor that has moved past it.
    """

    __tablename__ = "change_event"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    # xid8 as a bigint (it fits: epoch << 32 | xid), so no driver codec is needed.
    xid: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint")
    )
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID]
    action: Mapped[AuditAction] = mapped_column(enum_column(AuditAction))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (Index("ix_change_event_xid_id", "xid", "id"),)


class ChangeFeedState(Base):
    """How far the feed has been pruned (a single row): older cursors answer 410."""

    __tablename__ = "change_feed_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    pruned_xid: Mapped[int] = mapped_column(BigInteger)
    pruned_id: Mapped[int] = mapped_column(BigInteger)
