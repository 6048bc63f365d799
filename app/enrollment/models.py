import uuid
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import EnrollmentOrigin, EnrollmentStatus


class Enrollment(IdMixin, VersionedMixin, TimestampMixin, Base):
    __tablename__ = "enrollment"

    training_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_session.id", ondelete="RESTRICT")
    )
    cadre_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cadre.id", ondelete="RESTRICT"), index=True
    )
    origin: Mapped[EnrollmentOrigin] = mapped_column(enum_column(EnrollmentOrigin))
    status: Mapped[EnrollmentStatus] = mapped_column(
        enum_column(EnrollmentStatus), default=EnrollmentStatus.enrolled
    )
    leave_hours: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal(0))
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    # The organiser's recorded exception to the leave cap (docs/rules.md rule 7, N6): closing
    # completes the trainee even with leave above 1/7 of the credit hours.
    leave_exception_reason: Mapped[str | None] = mapped_column(String(500))
    # In a session with parts, leave is computed from attendance (docs/rules.md rule 11); a
    # typed leave_hours there is an override, and this is its recorded reason.
    leave_override_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("training_session_id", "cadre_id"),
        CheckConstraint("leave_hours >= 0", name="leave_non_negative"),
        CheckConstraint("leave_exception_reason <> ''", name="leave_exception_reason_not_empty"),
        CheckConstraint("leave_override_reason <> ''", name="leave_override_reason_not_empty"),
    )
