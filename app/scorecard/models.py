"""The unit scorecard's tables (docs/rules.md, "Unit scorecard")."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Numeric, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin

_INDICATORS = ("roll_call", "five_year", "annual", "online", "evaluation", "plan")


class UnitTarget(IdMixin, VersionedMixin, TimestampMixin, Base):
    """The weights (0–100 each, at least one above 0) and optional targets (percent) with which
    a unit scores its child units for a year."""

    __tablename__ = "unit_target"

    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    year: Mapped[int]
    roll_call_weight: Mapped[int]
    five_year_weight: Mapped[int]
    annual_weight: Mapped[int]
    online_weight: Mapped[int]
    evaluation_weight: Mapped[int]
    plan_weight: Mapped[int]
    roll_call_target: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    five_year_target: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    annual_target: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    online_target: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    evaluation_target: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    plan_target: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))

    __table_args__ = (
        UniqueConstraint("org_unit_id", "year"),
        CheckConstraint("year BETWEEN 1900 AND 2199", name="year_range"),
        CheckConstraint(
            " AND ".join(f"{i}_weight BETWEEN 0 AND 100" for i in _INDICATORS)
            + " AND "
            + " + ".join(f"{i}_weight" for i in _INDICATORS)
            + " > 0",
            name="weights_valid",
        ),
        CheckConstraint(
            " AND ".join(
                f"({i}_target IS NULL OR {i}_target BETWEEN 0 AND 100)" for i in _INDICATORS
            ),
            name="targets_valid",
        ),
    )


class UnitScorecardSnapshot(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A past year's scorecard of a unit's children, as first read after the year ended: the
    answer's body, served unchanged from then on (as an assessment's training snapshot)."""

    __tablename__ = "unit_scorecard_snapshot"

    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    year: Mapped[int]
    frozen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    scorecard: Mapped[dict[str, Any]] = mapped_column(JSONB)

    __table_args__ = (UniqueConstraint("org_unit_id", "year"),)
