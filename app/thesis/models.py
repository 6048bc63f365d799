import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import ThesisGrade, ThesisKind

TITLE_MAX = 200
BODY_MAX = 50_000
COMMENT_MAX = 2000


class Thesis(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A trainee's thesis (调研文章) or reflection (学习心得) (docs/rules.md, "Theses and
    reflections"): handed in with a session it took part in, or alone with its own study log of
    kind `thesis`; graded by the organiser 优秀 / 合格 / 不合格."""

    __tablename__ = "thesis"

    cadre_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cadre.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[ThesisKind] = mapped_column(enum_column(ThesisKind))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    body: Mapped[str] = mapped_column(Text)
    training_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("training_session.id", ondelete="RESTRICT")
    )
    study_log_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("study_log.id", ondelete="RESTRICT")
    )
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    grade: Mapped[ThesisGrade | None] = mapped_column(enum_column(ThesisGrade))
    graded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    grade_comment: Mapped[str | None] = mapped_column(String(COMMENT_MAX))

    __table_args__ = (
        CheckConstraint(
            "(training_session_id IS NULL) <> (study_log_id IS NULL)", name="one_subject"
        ),
        CheckConstraint("title <> ''", name="title_not_empty"),
        CheckConstraint(f"body <> '' AND char_length(body) <= {BODY_MAX}", name="body_length"),
        CheckConstraint("(grade IS NULL) = (graded_at IS NULL)", name="graded_when"),
        CheckConstraint("grade IS NOT NULL OR grade_comment IS NULL", name="comment_with_grade"),
        UniqueConstraint(
            "training_session_id", "cadre_id", "kind", name="uq_thesis_session_cadre_kind"
        ),
        Index(
            "uq_thesis_study_log_id",
            "study_log_id",
            unique=True,
            postgresql_where=text("study_log_id IS NOT NULL"),
        ),
    )
