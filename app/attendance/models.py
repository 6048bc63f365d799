import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import AttendanceMark, AttendanceMethod, LeaveRequestStatus


class LeaveRequest(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A trainee's request for leave (请假) from some parts of its session; the organiser
    approves or refuses it (docs/rules.md rule 12)."""

    __tablename__ = "leave_request"

    enrollment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enrollment.id", ondelete="RESTRICT"), index=True
    )
    session_part_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[LeaveRequestStatus] = mapped_column(
        enum_column(LeaveRequestStatus), default=LeaveRequestStatus.pending
    )
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("cardinality(session_part_ids) > 0", name="parts_given"),
        CheckConstraint("reason <> ''", name="reason_not_empty"),
    )


class Attendance(IdMixin, VersionedMixin, TimestampMixin, Base):
    """One enrollment's mark at one part: how it was taken, when, from which device, and the
    proxy sign-in (代签) flag when one device signed in two trainees of the part."""

    __tablename__ = "attendance"

    enrollment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enrollment.id", ondelete="RESTRICT")
    )
    session_part_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("session_part.id", ondelete="RESTRICT"), index=True
    )
    mark: Mapped[AttendanceMark] = mapped_column(enum_column(AttendanceMark))
    method: Mapped[AttendanceMethod] = mapped_column(enum_column(AttendanceMethod))
    marked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    device_id: Mapped[str | None] = mapped_column(String(200))
    minutes_missed: Mapped[int] = mapped_column(default=0)
    # Approved leave: the request that granted it (an on_leave mark without one is unapproved).
    leave_request_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("leave_request.id", ondelete="RESTRICT")
    )
    flag_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("enrollment_id", "session_part_id"),
        CheckConstraint(
            "minutes_missed >= 0 AND (minutes_missed = 0 OR mark IN ('late', 'left_early'))",
            name="minutes_missed_only_late_or_early",
        ),
        CheckConstraint(
            "leave_request_id IS NULL OR mark = 'on_leave'", name="leave_request_only_on_leave"
        ),
        Index("ix_attendance_part_device", "session_part_id", "device_id"),
    )
