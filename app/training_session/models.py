import uuid
from datetime import date, time
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, UniqueConstraint, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import DayPeriod, SessionStatus, TrainingForm


class TrainingSession(IdMixin, VersionedMixin, TimestampMixin, Base):
    __tablename__ = "training_session"

    title: Mapped[str] = mapped_column(String(200))
    form: Mapped[TrainingForm] = mapped_column(enum_column(TrainingForm))
    centralised: Mapped[bool]
    provider: Mapped[str | None] = mapped_column(String(200))
    organiser_org_unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    start_date: Mapped[date]
    end_date: Mapped[date]
    days: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    credit_hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    capacity: Mapped[int]
    # Active (enrolled/confirmed) enrollments, kept in step under the session's row lock;
    # the CHECK makes over-filling impossible even for a buggy writer.
    enrolled: Mapped[int] = mapped_column(default=0)
    status: Mapped[SessionStatus] = mapped_column(
        enum_column(SessionStatus), default=SessionStatus.draft
    )
    # The planned class (班次) of an approved plan this session holds (docs/rules.md,
    # "Training plans"); checked by training_plan.service.check_item_usable.
    plan_item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("training_plan_item.id", ondelete="RESTRICT"), index=True
    )
    # Cadres may enroll themselves (docs/rules.md rule 11); the organiser may turn it off.
    self_enrollment: Mapped[bool] = mapped_column(default=True, server_default="true")
    # Closed although some parts had unmarked enrollments: the organiser's reason (rule 12).
    close_force_reason: Mapped[str | None] = mapped_column(String(500))
    # The catalogue courses the session teaches, listed directly while it has no parts that name
    # them (docs/rules.md, "Catalogue").
    course_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid()), default=list, server_default=text("'{}'")
    )
    # The local day (Asia/Shanghai) the session became closed; NULL until then. A session's
    # evaluation opens on it unless the organiser opened it early (docs/rules.md, rule 14).
    closed_on: Mapped[date | None]

    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("enrolled >= 0 AND enrolled <= capacity", name="within_capacity"),
        CheckConstraint("days > 0 AND credit_hours > 0", name="positive_size"),
    )


class SessionAudience(IdMixin, Base):
    """An org unit whose cadres the session is for, with its seat quota (调训名额): the seats its
    cadres may hold at once; NULL for no quota of its own (docs/rules.md rule 11)."""

    __tablename__ = "session_audience"

    training_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_session.id", ondelete="CASCADE")
    )
    org_unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    seat_quota: Mapped[int | None]

    __table_args__ = (
        UniqueConstraint("training_session_id", "org_unit_id"),
        CheckConstraint("seat_quota >= 0", name="seat_quota_non_negative"),
    )


class SessionPart(IdMixin, TimestampMixin, Base):
    """A class part (课次): one half-day or evening of a session, with its credit hours and its
    class start and end in local time (Asia/Shanghai). Edited as the session's whole list
    (`PUT .../parts`, docs/rules.md rule 12): the parts' hours add up to the session's."""

    __tablename__ = "session_part"

    training_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_session.id", ondelete="RESTRICT"), index=True
    )
    part_date: Mapped[date]
    period: Mapped[DayPeriod] = mapped_column(enum_column(DayPeriod))
    credit_hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    start_time: Mapped[time]
    end_time: Mapped[time]
    # What is taught and by whom: catalogue entries (docs/rules.md, "Catalogue").
    course_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("course.id", ondelete="RESTRICT"), index=True
    )
    teacher_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teacher.id", ondelete="RESTRICT"), index=True
    )

    __table_args__ = (
        UniqueConstraint("training_session_id", "part_date", "period"),
        CheckConstraint("credit_hours > 0", name="positive_hours"),
        CheckConstraint("end_time > start_time", name="window_ordered"),
    )
