import uuid
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import TeacherKind


class Teacher(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A teacher of the catalogue (师资库), owned by an org unit (docs/rules.md, "Catalogue")."""

    __tablename__ = "teacher"

    org_unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    specialties: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    kind: Mapped[TeacherKind] = mapped_column(enum_column(TeacherKind))
    active: Mapped[bool] = mapped_column(default=True)


class Course(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A course of the catalogue (课程库), owned by an org unit."""

    __tablename__ = "course"

    org_unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    topic_tags: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    default_hours: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    # The catalogue's teachers who teach it (checked visible when written).
    teacher_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (
        CheckConstraint("default_hours IS NULL OR default_hours > 0", name="positive_hours"),
        # One active title per unit's catalogue, case and surrounding spaces ignored.
        Index(
            "uq_course_title",
            "org_unit_id",
            text("lower(btrim(title))"),
            unique=True,
            postgresql_where=text("active"),
        ),
    )
