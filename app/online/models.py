import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin


class OnlinePlatform(IdMixin, VersionedMixin, TimestampMixin, Base):
    """An online academy whose records are imported, with its conversion table from what it
    reports to 学时 (docs/rules.md, "Online academies")."""

    __tablename__ = "online_platform"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # {"bands": [{"min_minutes": int, "hours": "decimal"}, ...], "test_bonus_hours": "decimal"}
    # (app.online.schemas.Conversion; checked when written).
    conversion: Mapped[dict[str, Any]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(default=True)


LEARNER_MATCHES = ("id_number", "org_admin", "admin")
"""Who matched an account (`online_learner.matched_by`): an import row's ID number (admin or
hr_system), or a person with `PUT .../learners/{learner_id}` (docs/rules.md "Online
academies")."""


class OnlineLearner(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A platform's learner account, matched to a cadre: learned when a row is matched by ID
    number, or set by an org admin for a cadre of its subtree (or an admin); `matched_by` says
    which, as an ID-number match overrides an org admin's mapping and not the reverse."""

    __tablename__ = "online_learner"

    platform_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("online_platform.id", ondelete="RESTRICT")
    )
    learner_id: Mapped[str] = mapped_column(String(64))
    cadre_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cadre.id", ondelete="RESTRICT"), index=True
    )

    matched_by: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        UniqueConstraint("platform_id", "learner_id"),
        CheckConstraint(
            "matched_by IN ('id_number', 'org_admin', 'admin')", name="matched_by_known"
        ),
    )


class OnlineRecord(IdMixin, VersionedMixin, TimestampMixin, Base):
    """One record of a platform, as it sent it, kept as the source of the study log it became.

    `flags`: the plausibility checks it failed, [{"rule": ..., "evidence": {...}}]; a flagged
    record's log is `pending`."""

    __tablename__ = "online_record"

    platform_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("online_platform.id", ondelete="RESTRICT")
    )
    external_id: Mapped[str] = mapped_column(String(128))
    cadre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cadre.id", ondelete="RESTRICT"))
    learner_id: Mapped[str] = mapped_column(String(64))
    course_code: Mapped[str] = mapped_column(String(64))
    course_title: Mapped[str] = mapped_column(String(200))
    course_minutes: Mapped[int | None]
    minutes: Mapped[int]
    completed: Mapped[bool]
    test_passed: Mapped[bool]
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(INET)
    device: Mapped[str | None] = mapped_column(String(200))
    hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    study_log_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("study_log.id", ondelete="RESTRICT"), unique=True
    )
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))

    __table_args__ = (
        UniqueConstraint("platform_id", "external_id"),
        CheckConstraint(
            "minutes > 0 AND (course_minutes IS NULL OR course_minutes > 0) AND hours >= 0",
            name="positive_minutes",
        ),
        CheckConstraint(
            "ended_at IS NULL OR started_at IS NULL OR ended_at >= started_at",
            name="times_ordered",
        ),
        # The plausibility checks and the anomalies report read a cadre's days, and one IP
        # address's or device's day.
        Index("ix_online_record_cadre_id_started_at", "cadre_id", "started_at"),
        Index("ix_online_record_started_at", "started_at"),
    )
