import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin


class CertificateSerial(Base):
    """The last serial number an organiser gave in a year: taken and raised by one UPSERT, so
    the row stays locked until the closing transaction ends (gap-free, race-safe)."""

    __tablename__ = "certificate_serial"

    organiser_org_unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int]


class Certificate(IdMixin, TimestampMixin, Base):
    """结业证书: one per completed enrollment with a study log, issued when the session closes."""

    __tablename__ = "certificate"

    organiser_org_unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT")
    )
    year: Mapped[int]
    seq: Mapped[int]
    serial: Mapped[str] = mapped_column(String(20))
    cadre_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cadre.id", ondelete="RESTRICT"), index=True
    )
    training_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_session.id", ondelete="RESTRICT"), index=True
    )
    enrollment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enrollment.id", ondelete="RESTRICT"), unique=True
    )
    study_log_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("study_log.id", ondelete="RESTRICT"), unique=True
    )
    hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    days: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    # Printed on the PDF (its QR code), so kept as is; unique, so indexed.
    verification_code: Mapped[str] = mapped_column(String(64), unique=True)
    # Set by the database when the study log is voided (migration 0024).
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("seq > 0", name="seq_positive"),
        UniqueConstraint("organiser_org_unit_id", "year", "seq"),
    )
