"""Every query of the evaluation domain, and its scope statements."""

# ---------------------------------------------------------------------------------------------
# Reports (rule 14, the figures). The answers are aggregated in SQL, grouped; each answer's
# scores are matched to its form's indicators by (form_id, subject, position) with
# `unnest(scores) WITH ORDINALITY`. Weights are summed in hundredths (integers), so a group's
# exact weighted score follows from these sums without rounding (app/evaluation/rules.py).

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from app.actor import Actor
from app.catalogue.models import Course, Teacher
from app.enums import EvaluationSubject, Role
from app.evaluation.models import (
    EvaluationAnswer,
    EvaluationComment,
    EvaluationForm,
    EvaluationIndicator,
    SessionEvaluation,
)
from app.org_unit.tree import subtree_ids
from app.training_session.models import SessionPart, TrainingSession

# What a report groups by: a column of evaluation_answer or training_session, or an expression.
GroupKey = ColumnElement[Any] | QueryableAttribute[Any]

# Rule 14: figures are read by the session's organisers (their subtree's org_admins), the
# admins and the auditors.
REPORT_READERS = frozenset({Role.admin, Role.auditor})


def report_scope(actor: Actor) -> ColumnElement[bool]:
    """Sessions whose evaluation reports the actor may read: every session for an admin or an
    auditor, those organised in its subtree for an org_admin, none otherwise."""
    if actor.role in REPORT_READERS:
        return true()
    if actor.role != Role.org_admin or actor.org_path is None:
        return false()
    return TrainingSession.organiser_org_unit_id.in_(subtree_ids(actor.org_path))


def comment_scope(actor: Actor) -> ColumnElement[bool]:
    """Sessions whose comments the actor may read: the organisers' (their subtree's
    org_admins) and the admins' only (the issue: "shown only to the organiser and admins")."""
    if actor.role == Role.admin:
        return true()
    if actor.role != Role.org_admin or actor.org_path is None:
        return false()
    return TrainingSession.organiser_org_unit_id.in_(subtree_ids(actor.org_path))


def evaluation_closed(today: dt.date) -> ColumnElement[bool]:
    """The window rule's `closed` in SQL: closed early by the organiser, or past closes_on =
    effective opening day (opens_on, else the session's closed_on) + open_days − 1."""
    opening = func.coalesce(SessionEvaluation.opens_on, TrainingSession.closed_on)
    return or_(
        SessionEvaluation.closed.is_(True),
        opening + (SessionEvaluation.open_days - 1) < today,
    )


@dataclass(frozen=True)
class SessionSums:
    """A group's answers in one session with one form: their count, Σ over them of Σ weight ×
    score and Σ weight of the form (both in hundredths), and how many are satisfied."""

    key: tuple[object, ...]
    training_session_id: uuid.UUID
    end_date: dt.date
    answers: int
    numerator: int
    denominator: int
    satisfied: int


@dataclass(frozen=True)
class CodeSums:
    """A group's scores of one indicator code, with the newest revision's label and position."""

    key: tuple[object, ...]
    code: str
    answers: int
    score_total: int
    label: str
    position: int


async def tallies(
    db_session: AsyncSession,
    keys: Sequence[GroupKey],
    where: Sequence[ColumnElement[bool]],
) -> tuple[list[SessionSums], list[CodeSums]]:
    """The answers matching `where` (over evaluation_answer, training_session and
    session_evaluation), summed per group (`keys`) and session, and per group and code."""
    scores = (
        func.unnest(EvaluationAnswer.scores)
        .table_valued("score", with_ordinality="position")
        .render_derived(name="u")
        .lateral()
    )
    indicator_join = and_(
        EvaluationIndicator.form_id == EvaluationAnswer.form_id,
        EvaluationIndicator.subject == EvaluationAnswer.subject,
        EvaluationIndicator.position == scores.c.position,
    )
    labelled = [k.label(f"k{i}") for i, k in enumerate(keys)]

    def base(*columns: Any) -> Select[Any]:
        return (
            select(*labelled, *columns)
            .select_from(EvaluationAnswer)
            .join(TrainingSession, TrainingSession.id == EvaluationAnswer.training_session_id)
            .join(
                SessionEvaluation,
                SessionEvaluation.training_session_id == EvaluationAnswer.training_session_id,
            )
            .join(scores, true())
            .join(EvaluationIndicator, indicator_join)
            .where(*where)
        )

    hundredths = func.round(EvaluationIndicator.weight * 100)
    per_answer = (
        base(
            EvaluationAnswer.training_session_id.label("training_session_id"),
            EvaluationAnswer.form_id.label("form_id"),
            TrainingSession.end_date.label("end_date"),
            func.sum(hundredths * scores.c.score).label("numerator"),
            func.sum(hundredths).label("denominator"),
        )
        .group_by(
            *keys,
            EvaluationAnswer.id,
            EvaluationAnswer.training_session_id,
            EvaluationAnswer.form_id,
            TrainingSession.end_date,
        )
        .subquery("per_answer")
    )
    group_keys = [per_answer.c[f"k{i}"] for i in range(len(keys))]
    per_session = select(
        *group_keys,
        per_answer.c.training_session_id,
        per_answer.c.end_date,
        func.count(),
        func.sum(per_answer.c.numerator),
        func.max(per_answer.c.denominator),
        func.count().filter(per_answer.c.numerator >= 4 * per_answer.c.denominator),
    ).group_by(
        *group_keys,
        per_answer.c.training_session_id,
        per_answer.c.form_id,
        per_answer.c.end_date,
    )
    sessions = [
        SessionSums(
            key=tuple(row[: len(keys)]),
            training_session_id=row[len(keys)],
            end_date=row[len(keys) + 1],
            answers=row[len(keys) + 2],
            numerator=int(row[len(keys) + 3]),
            denominator=int(row[len(keys) + 4]),
            satisfied=row[len(keys) + 5],
        )
        for row in await db_session.execute(per_session)
    ]

    newest = (EvaluationForm.created_at.desc(), EvaluationForm.id.desc())
    per_code = (
        base(
            EvaluationIndicator.code,
            func.count(),
            func.sum(scores.c.score),
            func.array_agg(aggregate_order_by(EvaluationIndicator.label, *newest))[1],
            func.array_agg(aggregate_order_by(EvaluationIndicator.position, *newest))[1],
        )
        .join(EvaluationForm, EvaluationForm.id == EvaluationIndicator.form_id)
        .group_by(*keys, EvaluationIndicator.code)
    )
    codes = [
        CodeSums(
            key=tuple(row[: len(keys)]),
            code=row[len(keys)],
            answers=row[len(keys) + 1],
            score_total=int(row[len(keys) + 2]),
            label=row[len(keys) + 3],
            position=row[len(keys) + 4],
        )
        for row in await db_session.execute(per_code)
    ]
    return sessions, codes


async def comments_of(
    db_session: AsyncSession, training_session_id: uuid.UUID
) -> list[tuple[object, uuid.UUID, str]]:
    """The session's comments as (subject, subject_id, body), each subject's sorted by text:
    the stored order says nothing, and neither does this one."""
    rows = await db_session.execute(
        select(EvaluationComment.subject, EvaluationComment.subject_id, EvaluationComment.body)
        .where(EvaluationComment.training_session_id == training_session_id)
        .order_by(
            EvaluationComment.subject,
            EvaluationComment.subject_id,
            EvaluationComment.body.collate("C"),
        )
    )
    return [(subject, subject_id, body) for subject, subject_id, body in rows]


async def subject_labels(
    db_session: AsyncSession, subject: EvaluationSubject, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The label of each rated subject: a session's title, a course's title, a teacher's name
    (whatever the reader's catalogue scope: the report names what was rated)."""
    if not ids:
        return {}
    column = {
        EvaluationSubject.session: (TrainingSession.id, TrainingSession.title),
        EvaluationSubject.course: (Course.id, Course.title),
        EvaluationSubject.teacher: (Teacher.id, Teacher.name),
    }[subject]
    rows = await db_session.execute(select(*column).where(column[0].in_(ids)))
    return {row[0]: row[1] for row in rows}


async def readable_session(
    db_session: AsyncSession, training_session_id: uuid.UUID, scope: ColumnElement[bool]
) -> TrainingSession | None:
    return (
        await db_session.scalars(
            select(TrainingSession).where(TrainingSession.id == training_session_id, scope)
        )
    ).one_or_none()


async def attached(
    db_session: AsyncSession, training_session_id: uuid.UUID
) -> SessionEvaluation | None:
    return (
        await db_session.scalars(
            select(SessionEvaluation).where(
                SessionEvaluation.training_session_id == training_session_id
            )
        )
    ).one_or_none()


async def named_subjects(
    db_session: AsyncSession, session: TrainingSession
) -> set[tuple[EvaluationSubject, uuid.UUID]]:
    """The courses and teachers a session names: its parts', or, where no part names one, the
    session's `course_ids` and those courses' teachers (docs/rules.md, "Catalogue")."""
    parts = (
        await db_session.execute(
            select(SessionPart.course_id, SessionPart.teacher_id).where(
                SessionPart.training_session_id == session.id
            )
        )
    ).all()
    named: set[tuple[EvaluationSubject, uuid.UUID]] = set()
    for course_id, teacher_id in parts:
        if course_id is not None:
            named.add((EvaluationSubject.course, course_id))
        if teacher_id is not None:
            named.add((EvaluationSubject.teacher, teacher_id))
    if named or not session.course_ids:
        return named
    teacher_lists = await db_session.scalars(
        select(Course.teacher_ids).where(Course.id.in_(session.course_ids))
    )
    named.update((EvaluationSubject.course, c) for c in session.course_ids)
    named.update((EvaluationSubject.teacher, t) for ts in teacher_lists for t in ts)
    return named
