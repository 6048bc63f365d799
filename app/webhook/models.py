import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin


class WebhookSubscription(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A receiver of the change feed. Its configuration is changed through the API (versioned,
    audited); its place in the feed and its delivery state by the worker alone, which does not
    bump the version for them, and the audit trigger skips those columns (migration 0013): only
    disabling it is audited.

    The signing secret is stored encrypted (app.personal_data.SecretBox), bound to the row."""

    __tablename__ = "webhook_subscription"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(2000))
    # Empty: every entity the feed carries (app.enums.FeedEntity).
    entity_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    active: Mapped[bool]
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # After a rotation the previous secret signs too, until it expires.
    previous_secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # The last event delivered (or passed over by the filter), as (transaction id, event id).
    position_xid: Mapped[int] = mapped_column(BigInteger)
    position_event_id: Mapped[int] = mapped_column(BigInteger)
    # Set while a message is being retried: its last event, so every retry sends the same
    # message (same events, same webhook-id) even when more events have settled meanwhile.
    pending_until_xid: Mapped[int | None] = mapped_column(BigInteger)
    pending_until_event_id: Mapped[int | None] = mapped_column(BigInteger)
    # Failed attempts in a row at the pending message.
    attempts: Mapped[int] = mapped_column(default=0)
    # When a worker may take the subscription next; a worker that takes it moves this past its
    # delivery timeout (a lease), so one that dies mid-delivery delays it and loses nothing.
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    lease_token: Mapped[uuid.UUID | None]
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint(
            "(pending_until_xid IS NULL) = (pending_until_event_id IS NULL)",
            name="pending_until_pair",
        ),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_webhook_subscription_due", "next_attempt_at", postgresql_where=text("active")),
    )


class WebhookDelivery(IdMixin, Base):
    """One attempt to deliver one message: the delivery log, kept for
    `APP_WEBHOOKS__DELIVERY_RETENTION_DAYS`. Written by the worker only."""

    __tablename__ = "webhook_delivery"

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscription.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(200))
    first_event_id: Mapped[int] = mapped_column(BigInteger)
    last_event_id: Mapped[int] = mapped_column(BigInteger)
    event_count: Mapped[int]
    attempt: Mapped[int]
    succeeded: Mapped[bool]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int | None]  # only when an HTTP answer came (migration 0015)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_webhook_delivery_subscription_id_id", "subscription_id", "id"),
        Index("ix_webhook_delivery_attempted_at", "attempted_at"),
    )
