import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin


class CalendarFeed(IdMixin, TimestampMixin, Base):
    """A cadre's private calendar feed (docs/calendars.md): at most one per cadre, reached by a
    256-bit token of which only the SHA-256 is kept. Rotating replaces the hash (the old URL
    stops at once); revoking deletes the row."""

    __tablename__ = "calendar_feed"

    cadre_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cadre.id", ondelete="CASCADE"), unique=True
    )
    # Hex SHA-256 of the token: looked up by its unique index, never shown, hidden in the audit
    # trail ("<changed>").
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # When the current token was given out (creation or the last rotation).
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The user's token_version when the token was given out: a password change, role change or
    # deactivation raises the user's and so ends the address too (docs/calendars.md).
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # The last fetch of the feed: bookkeeping, skipped by the audit trail.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
