import uuid
from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class IdempotencyRecord(Base):
    """The first answer to a POST sent with an Idempotency-Key, stored in the same transaction
    as what the POST created: a retry gets it back instead of creating again."""

    __tablename__ = "idempotency_record"

    principal_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(500))
    etag: Mapped[str | None] = mapped_column(String(100))
    # The language the answer's texts were written in (a replay says it: app/i18n.py).
    content_language: Mapped[str | None] = mapped_column(String(16))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
