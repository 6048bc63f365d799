"""The tables of the anonymous evaluation (评课, docs/evaluation.md).

`evaluation_answer` and `evaluation_comment` are built so that nothing ties a row to a person:
random ids (not app.ids.new_id, whose UUIDv7 carries a time), no timestamp, no reference to an
enrollment, one row per rated subject, and no audit or change-feed trigger. Who has answered is
kept apart, in `evaluation_answered`, written in another transaction.
"""

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import EvaluationSubject


class EvaluationForm(IdMixin, VersionedMixin, TimestampMixin, Base):
    """One revision of an evaluation form. Editing a form adds a revision to its lineage; a
    revision never changes once created, except `active` (docs/evaluation.md)."""

    __tablename__ = "evaluation_form"

    org_unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # The id of revision 1 (revision 1 has lineage_id = id).
    lineage_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    revision: Mapped[int]
    allow_comments: Mapped[bool]
    active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (
        UniqueConstraint("lineage_id", "revision"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        CheckConstraint("char_length(name) > 0", name="name_not_empty"),
    )


class EvaluationIndicator(IdMixin, Base):
    """An indicator of a form revision, rated 1–5: `position` orders it within its subject and
    is the index of its score in an answer's `scores`."""

    __tablename__ = "evaluation_indicator"

    form_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("evaluation_form.id", ondelete="RESTRICT")
    )
    subject: Mapped[EvaluationSubject] = mapped_column(enum_column(EvaluationSubject))
    position: Mapped[int]
    # Stable across revisions ("content", "delivery"): reports match indicators by it.
    code: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    weight: Mapped[Decimal] = mapped_column(Numeric(5, 2))

    __table_args__ = (
        UniqueConstraint("form_id", "subject", "position"),
        UniqueConstraint("form_id", "subject", "code"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("weight > 0 AND weight <= 100", name="weight_range"),
    )


class SessionEvaluation(IdMixin, VersionedMixin, TimestampMixin, Base):
    """The form attached to a session, and its window (docs/rules.md, rule 14)."""

    __tablename__ = "session_evaluation"

    training_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_session.id", ondelete="RESTRICT"), unique=True
    )
    form_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("evaluation_form.id", ondelete="RESTRICT"), index=True
    )
    # Opened early by the organiser; NULL: opens the day the session closes.
    opens_on: Mapped[date | None]
    # APP_EVALUATION__OPEN_DAYS when attached.
    open_days: Mapped[int]
    # Closed early by the organiser.
    closed: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (CheckConstraint("open_days BETWEEN 1 AND 365", name="open_days_range"),)


class EvaluationAnswered(IdMixin, TimestampMixin, Base):
    """That an enrollment has answered its session's evaluation: nothing of the answer."""

    __tablename__ = "evaluation_answered"

    enrollment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enrollment.id", ondelete="RESTRICT"), unique=True
    )


class EvaluationAnswer(Base):
    """One trainee's scores for ONE subject (the session, a course or a teacher). A submission's
    rows are not tied to each other, nor to anyone; no timestamp; not audited."""

    __tablename__ = "evaluation_answer"

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), primary_key=True, server_default=text("gen_random_uuid()")
    )
    training_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_session.id", ondelete="RESTRICT")
    )
    form_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("evaluation_form.id", ondelete="RESTRICT")
    )
    subject: Mapped[EvaluationSubject] = mapped_column(enum_column(EvaluationSubject))
    # The session's id (subject session), else the course's or the teacher's: checked when written.
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    # scores[i] rates the subject's indicator at position i.
    scores: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger()))

    __table_args__ = (
        CheckConstraint(
            "array_ndims(scores) = 1 AND array_length(scores, 1) >= 1 "
            "AND array_position(scores, NULL) IS NULL "
            "AND 1 <= ALL(scores) AND 5 >= ALL(scores)",
            name="scores_valid",
        ),
        Index(None, "training_session_id", "subject", "subject_id"),
        Index(None, "subject", "subject_id"),
    )


class EvaluationComment(Base):
    """One trainee's free text about ONE subject; tied to no answer and no one; not audited."""

    __tablename__ = "evaluation_comment"

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid(), primary_key=True, server_default=text("gen_random_uuid()")
    )
    training_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_session.id", ondelete="RESTRICT")
    )
    subject: Mapped[EvaluationSubject] = mapped_column(enum_column(EvaluationSubject))
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    body: Mapped[str] = mapped_column(Text())

    __table_args__ = (
        CheckConstraint("char_length(body) BETWEEN 1 AND 2000", name="body_length"),
        Index(None, "training_session_id", "subject", "subject_id"),
    )
