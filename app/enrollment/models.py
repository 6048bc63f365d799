import uuid
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
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
    # Seats (docs/rules.md rule 11): the audience unit whose quota the enrollment counts against
    # (the deepest audience unit above the cadre's; NULL outside the audience), the unit that
    # nominated it, the organiser's reason for a rejection or a substitute request, and the
    # place on the waitlist (only while waitlisted).
    audience_org_unit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT")
    )
    nominated_by_org_unit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT")
    )
    review_reason: Mapped[str | None] = mapped_column(String(500))
    waitlist_position: Mapped[int | None]
    # In a session with parts, leave is computed from attendance (docs/rules.md rule 12); a
    # typed leave_hours there is an override, and this is its recorded reason.
    leave_override_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("training_session_id", "cadre_id"),
        CheckConstraint("leave_hours >= 0", name="leave_non_negative"),
        CheckConstraint("leave_exception_reason <> ''", name="leave_exception_reason_not_empty"),
        CheckConstraint(
            "(status = 'waitlisted') = (waitlist_position IS NOT NULL)",
            name="waitlist_position_iff_waitlisted",
        ),
        CheckConstraint("review_reason <> ''", name="review_reason_not_empty"),
        Index(
            "uq_enrollment_waitlist_position",
            "training_session_id",
            "waitlist_position",
            unique=True,
            postgresql_where=text("waitlist_position IS NOT NULL"),
        ),
        CheckConstraint("leave_override_reason <> ''", name="leave_override_reason_not_empty"),
    )
