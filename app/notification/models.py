import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import NotificationKind


class Notification(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A notification to a cadre (docs/notifications.md): written in the transaction of its
    cause, or by the reminder job; read at `/api/v1/me/notifications`, delivered to webhook
    subscriptions that list `notification` (the change feed carries the table)."""

    __tablename__ = "notification"

    cadre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cadre.id", ondelete="RESTRICT"))
    kind: Mapped[NotificationKind] = mapped_column(enum_column(NotificationKind))
    training_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("training_session.id", ondelete="RESTRICT"), index=True
    )
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("enrollment.id", ondelete="RESTRICT"), index=True
    )
    cadre_qualification_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cadre_qualification.id", ondelete="RESTRICT"), index=True
    )
    # What the text needs, by kind (app.notification.schemas): a snapshot at writing time.
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # One notification per key: the event's own (a retried cause adds nothing), or the
    # reminder job's cadre + rule + subject (+ day for the daily rule).
    dedupe_key: Mapped[str] = mapped_column(Text, unique=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("dedupe_key <> ''", name="dedupe_key_not_empty"),
        # The caller's list: unread first, then newest (ids are time-ordered).
        Index(
            "ix_notification_cadre_unread",
            "cadre_id",
            text("(read_at IS NULL) DESC"),
            text("id DESC"),
        ),
    )
