import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import StudyLogKind, StudyLogSource, StudyLogStatus


class StudyLog(IdMixin, VersionedMixin, TimestampMixin, Base):
    """One creditable learning activity of one cadre. Only `approved` logs count."""

    __tablename__ = "study_log"

    cadre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cadre.id", ondelete="RESTRICT"))
    kind: Mapped[StudyLogKind] = mapped_column(enum_column(StudyLogKind))
    title: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(200))
    start_date: Mapped[date]
    end_date: Mapped[date]
    hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    days: Mapped[Decimal] = mapped_column(Numeric(7, 2), default=Decimal(0))
    status: Mapped[StudyLogStatus] = mapped_column(
        enum_column(StudyLogStatus), default=StudyLogStatus.pending
    )
    source: Mapped[StudyLogSource] = mapped_column(
        enum_column(StudyLogSource), default=StudyLogSource.manual
    )
    training_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("training_session.id", ondelete="RESTRICT")
    )
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("enrollment.id", ondelete="RESTRICT")
    )
    note: Mapped[str | None] = mapped_column(String(2000))
    review_comment: Mapped[str | None] = mapped_column(String(2000))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # SHA-256 of the canonical body of an idempotent PUT: same body → same answer, else 409.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint("hours >= 0 AND days >= 0", name="non_negative"),
        # A cadre's logs for the engine (compliance, credits) as an index-only scan: the rows of
        # one cadre lie all over the heap, one page each.
        Index(
            "ix_study_log_cadre_id_end_date",
            "cadre_id",
            "end_date",
            postgresql_include=["id", "kind", "start_date", "hours", "days", "status"],
        ),
        # Report corrections: logs dated after the evaluation day, and centralised logs across
        # the start of a five-year window (app.compliance.repository).
        Index("ix_study_log_end_date", "end_date"),
        Index("ix_study_log_kind_start_date", "kind", "start_date"),
        # Only the logs a session issued have these: manual and imported logs (most of them)
        # stay out of both indexes.
        Index(
            "ix_study_log_training_session_id",
            "training_session_id",
            postgresql_where=text("training_session_id IS NOT NULL"),
        ),
        Index(
            "uq_study_log_enrollment_id",
            "enrollment_id",
            unique=True,
            postgresql_where=text("enrollment_id IS NOT NULL"),
        ),
        Index(
            "ix_study_log_long",
            "end_date",
            postgresql_where=text("end_date - start_date > 366"),
        ),
    )
