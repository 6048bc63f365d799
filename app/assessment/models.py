import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import AssessmentRating


class Assessment(IdMixin, VersionedMixin, TimestampMixin, Base):
    """Annual assessment (年度考核), one per cadre and year, with the training figures it was
    decided on frozen in `training_snapshot` (docs/rules.md rule 9)."""

    __tablename__ = "assessment"

    cadre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cadre.id", ondelete="RESTRICT"))
    year: Mapped[int]
    rating: Mapped[AssessmentRating] = mapped_column(enum_column(AssessmentRating))
    comment: Mapped[str | None] = mapped_column(String(2000))
    override_reason: Mapped[str | None] = mapped_column(String(2000))
    """Why an admin rated the cadre `excellent` although the year's training requirement was
    not met (docs/rules.md rule 9); also frozen in `training_snapshot`. Null otherwise."""
    training_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)

    __table_args__ = (
        UniqueConstraint("cadre_id", "year"),
        CheckConstraint("year BETWEEN 1900 AND 2199", name="year_range"),
    )
