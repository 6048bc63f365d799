import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import PlanStatus, TrainingForm


class TrainingPlan(IdMixin, VersionedMixin, TimestampMixin, Base):
    """One unit's plan for one year (docs/rules.md, "Training plans")."""

    __tablename__ = "training_plan"

    org_unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    year: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[PlanStatus] = mapped_column(enum_column(PlanStatus), default=PlanStatus.draft)
    return_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL")
    )

    items: Mapped[list["TrainingPlanItem"]] = relationship(
        lazy="raise", order_by="(TrainingPlanItem.month, TrainingPlanItem.title)"
    )

    __table_args__ = (
        UniqueConstraint("org_unit_id", "year"),
        CheckConstraint("year BETWEEN 1900 AND 2199", name="year_in_range"),
    )


class TrainingPlanItem(IdMixin, VersionedMixin, TimestampMixin, Base):
    """One planned class (班次) of a plan."""

    __tablename__ = "training_plan_item"

    training_plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_plan.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    form: Mapped[TrainingForm] = mapped_column(enum_column(TrainingForm))
    centralised: Mapped[bool]
    month: Mapped[int]
    days: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    credit_hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    target_ranks: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    topic_tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    planned_seats: Mapped[int]

    __table_args__ = (
        CheckConstraint("month BETWEEN 1 AND 12", name="month_in_range"),
        CheckConstraint("days > 0 AND credit_hours > 0", name="positive_size"),
        CheckConstraint("planned_seats > 0", name="seats_positive"),
    )
