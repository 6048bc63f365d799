"""Every query of the anonymous evaluation (docs/evaluation.md), and its scope statements.

The answer tables are written here only by `insert_answers` and `reshuffle`, which leave no
trace of who answered or when (docs/evaluation.md)."""

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, false, func, or_, select, text, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.actor import Actor
from app.catalogue.models import Course, Teacher
from app.db import any_of
from app.enrollment.models import Enrollment
from app.enums import EnrollmentStatus, EvaluationSubject, Role
from app.evaluation.models import (
    EvaluationAnswer,
    EvaluationAnswered,
    EvaluationComment,
    EvaluationForm,
    EvaluationIndicator,
    SessionEvaluation,
)
from app.org_unit.models import OrgUnit
from app.org_unit.tree import path_ids, subtree_ids
from app.training_session.models import SessionPart, TrainingSession

# --- forms --------------------------------------------------------------------------------------


def form_readable(actor: Actor) -> ColumnElement[bool]:
    """Forms the actor may read: every form for the whole-tree roles; for an org_admin its
    subtree's and its ancestors' (those it may attach); none for a cadre (a trainee reads the
    form through its session's evaluation)."""
    if actor.whole_tree:
        return true()
    if actor.role != Role.org_admin or actor.org_path is None:
        return false()
    return or_(
        EvaluationForm.org_unit_id.in_(subtree_ids(actor.org_path)),
        EvaluationForm.org_unit_id.in_(path_ids(actor.org_path)),
    )


def form_usable_from(unit_path: str) -> ColumnElement[bool]:
    """Active forms a unit (a session's organiser) may attach: its own, its ancestors', its
    subtree's."""
    return EvaluationForm.active.is_(True) & or_(
        EvaluationForm.org_unit_id.in_(path_ids(unit_path)),
        EvaluationForm.org_unit_id.in_(subtree_ids(unit_path)),
    )


async def get_form(
    db_session: AsyncSession,
    form_id: uuid.UUID,
    actor: Actor | None = None,
    *,
    for_update: bool = False,
) -> EvaluationForm | None:
    stmt = select(EvaluationForm).where(EvaluationForm.id == form_id)
    if actor is not None:
        stmt = stmt.where(form_readable(actor))
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


async def usable_form(
    db_session: AsyncSession, form_id: uuid.UUID, unit_path: str
) -> EvaluationForm | None:
    return (
        await db_session.scalars(
            select(EvaluationForm).where(EvaluationForm.id == form_id, form_usable_from(unit_path))
        )
    ).one_or_none()


def _is_latest() -> ColumnElement[bool]:
    newer = aliased(EvaluationForm)
    return ~(
        select(newer.id)
        .where(newer.lineage_id == EvaluationForm.lineage_id)
        .where(newer.revision > EvaluationForm.revision)
        .exists()
    )


def list_forms_query(
    actor: Actor, *, unit_path: str | None, active: bool | None, all_revisions: bool
) -> Select[EvaluationForm]:
    stmt = select(EvaluationForm).where(form_readable(actor))
    if unit_path is not None:
        stmt = stmt.where(EvaluationForm.org_unit_id.in_(subtree_ids(unit_path)))
    if active is not None:
        stmt = stmt.where(EvaluationForm.active.is_(active))
    if not all_revisions:
        stmt = stmt.where(_is_latest())
    return stmt


async def indicators_of(
    db_session: AsyncSession, form_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[EvaluationIndicator]]:
    """Each form's indicators, by subject (session, course, teacher) then position."""
    found: dict[uuid.UUID, list[EvaluationIndicator]] = {f: [] for f in form_ids}
    if not form_ids:
        return found
    order = {s: n for n, s in enumerate(EvaluationSubject)}
    rows = await db_session.scalars(
        select(EvaluationIndicator).where(any_of(EvaluationIndicator.form_id, list(form_ids)))
    )
    for row in sorted(rows, key=lambda i: (order[i.subject], i.position)):
        found[row.form_id].append(row)
    return found


async def lock_lineage(db_session: AsyncSession, lineage_id: uuid.UUID) -> int:
    """Lock the lineage's revision 1 (revisions of one form are added one at a time) and
    answer its newest revision number, read after the lock."""
    await db_session.execute(
        select(EvaluationForm.id).where(EvaluationForm.id == lineage_id).with_for_update()
    )
    newest = await db_session.scalar(
        select(func.max(EvaluationForm.revision)).where(EvaluationForm.lineage_id == lineage_id)
    )
    assert newest is not None  # revision 1 exists
    return newest


async def newest_revision(db_session: AsyncSession, lineage_id: uuid.UUID) -> int:
    newest = await db_session.scalar(
        select(func.max(EvaluationForm.revision)).where(EvaluationForm.lineage_id == lineage_id)
    )
    assert newest is not None
    return newest


async def unit_path(db_session: AsyncSession, org_unit_id: uuid.UUID) -> str | None:
    return await db_session.scalar(select(OrgUnit.path).where(OrgUnit.id == org_unit_id))


# --- a session's evaluation ---------------------------------------------------------------------


async def get_session_evaluation(
    db_session: AsyncSession, training_session_id: uuid.UUID, *, for_update: bool = False
) -> SessionEvaluation | None:
    stmt = select(SessionEvaluation).where(
        SessionEvaluation.training_session_id == training_session_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


def _markers_of(training_session_id: uuid.UUID) -> Select[uuid.UUID]:
    return (
        select(EvaluationAnswered.id)
        .join(Enrollment, Enrollment.id == EvaluationAnswered.enrollment_id)
        .where(Enrollment.training_session_id == training_session_id)
    )


async def answered_count(db_session: AsyncSession, training_session_id: uuid.UUID) -> int:
    count = await db_session.scalar(
        select(func.count()).select_from(_markers_of(training_session_id).subquery())
    )
    return count or 0


async def has_answers(db_session: AsyncSession, training_session_id: uuid.UUID) -> bool:
    """Anyone has answered (a marker), or an answer row exists (never without a marker)."""
    marker = await db_session.scalar(_markers_of(training_session_id).limit(1))
    if marker is not None:
        return True
    row = await db_session.scalar(
        select(EvaluationAnswer.id)
        .where(EvaluationAnswer.training_session_id == training_session_id)
        .limit(1)
    )
    return row is not None


async def eligible_count(
    db_session: AsyncSession,
    training_session_id: uuid.UUID,
    statuses: Collection[EnrollmentStatus],
) -> int:
    """Enrollments in one of `statuses`, plus any that answered and is in another status now."""
    answered = select(EvaluationAnswered.enrollment_id)
    count = await db_session.scalar(
        select(func.count(Enrollment.id)).where(
            Enrollment.training_session_id == training_session_id,
            or_(any_of(Enrollment.status, list(statuses)), Enrollment.id.in_(answered)),
        )
    )
    return count or 0


async def enrollment_of(
    db_session: AsyncSession, training_session_id: uuid.UUID, cadre_id: uuid.UUID
) -> Enrollment | None:
    return (
        await db_session.scalars(
            select(Enrollment).where(
                Enrollment.training_session_id == training_session_id,
                Enrollment.cadre_id == cadre_id,
            )
        )
    ).one_or_none()


async def has_answered(db_session: AsyncSession, enrollment_id: uuid.UUID) -> bool:
    found = await db_session.scalar(
        select(EvaluationAnswered.id).where(EvaluationAnswered.enrollment_id == enrollment_id)
    )
    return found is not None


async def session_subjects(
    db_session: AsyncSession, ts: TrainingSession
) -> list[tuple[EvaluationSubject, uuid.UUID, str]]:
    """The courses and teachers of the session, each once, in teaching order: named by its
    parts; a session without parts: its `course_ids` and those courses' teachers."""
    parts = (
        await db_session.execute(
            select(SessionPart.course_id, SessionPart.teacher_id)
            .where(SessionPart.training_session_id == ts.id)
            .order_by(SessionPart.part_date, SessionPart.start_time)
        )
    ).all()
    if parts:
        course_ids = list(dict.fromkeys(c for c, _ in parts if c is not None))
        teacher_ids = list(dict.fromkeys(t for _, t in parts if t is not None))
        courses = await _titles(db_session, course_ids)
    else:
        course_rows = (
            await db_session.execute(
                select(Course.id, Course.title, Course.teacher_ids).where(
                    any_of(Course.id, list(ts.course_ids))
                )
            )
        ).all()
        by_id = {c: (title, teachers) for c, title, teachers in course_rows}
        course_ids = [c for c in ts.course_ids if c in by_id]
        courses = {c: by_id[c][0] for c in course_ids}
        teacher_ids = list(dict.fromkeys(t for c in course_ids for t in by_id[c][1]))
    teachers = await _names(db_session, teacher_ids)
    return [(EvaluationSubject.course, c, courses[c]) for c in course_ids if c in courses] + [
        (EvaluationSubject.teacher, t, teachers[t]) for t in teacher_ids if t in teachers
    ]


async def _titles(db_session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await db_session.execute(select(Course.id, Course.title).where(any_of(Course.id, ids)))
    return {row[0]: row[1] for row in rows.all()}


async def _names(db_session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await db_session.execute(select(Teacher.id, Teacher.name).where(any_of(Teacher.id, ids)))
    return {row[0]: row[1] for row in rows.all()}


# --- answering: the marker, then the answer (docs/evaluation.md) -------------------------------


async def add_marker(db_session: AsyncSession, enrollment_id: uuid.UUID) -> uuid.UUID:
    """Record that the enrollment has answered (its unique key refuses a second time)."""
    marker = EvaluationAnswered(enrollment_id=enrollment_id)
    db_session.add(marker)
    await db_session.flush()
    return marker.id


async def delete_marker(db_session: AsyncSession, marker_id: uuid.UUID) -> None:
    await db_session.execute(delete(EvaluationAnswered).where(EvaluationAnswered.id == marker_id))


async def serialise_answers(db_session: AsyncSession, training_session_id: uuid.UUID) -> None:
    """Answer transactions of one session run one after the other: otherwise two concurrent
    ones would each reshuffle only the rows they see, and the later one's own rows would keep
    an xmin of their own. An advisory lock, so no row records the locker (a row lock would
    leave its xid in xmax)."""
    await db_session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('evaluation:' || :s, 0))"),
        {"s": str(training_session_id)},
    )


async def insert_answers(
    db_session: AsyncSession,
    answers: Sequence[dict[str, Any]],
    comments: Sequence[dict[str, Any]],
) -> None:
    """Insert one row per rated subject (and per comment), ids left to the database's
    gen_random_uuid(): nothing ties the rows to each other or to anyone."""
    if answers:
        await db_session.execute(insert(EvaluationAnswer), list(answers))
    if comments:
        await db_session.execute(insert(EvaluationComment), list(comments))


# One statement per table: every answer (comment) row of the session is deleted and inserted
# again with a fresh random id, in random order. After it, all of the session's rows carry this
# transaction's xmin and new heap positions, so neither xmin, id nor order says which came last.
_RESHUFFLE_ANSWERS = text(
    "WITH old AS (DELETE FROM evaluation_answer WHERE training_session_id = :s "
    "RETURNING form_id, subject, subject_id, scores) "
    "INSERT INTO evaluation_answer (id, training_session_id, form_id, subject, subject_id, scores) "
    "SELECT gen_random_uuid(), :s, form_id, subject, subject_id, scores FROM old ORDER BY random()"
)
_RESHUFFLE_COMMENTS = text(
    "WITH old AS (DELETE FROM evaluation_comment WHERE training_session_id = :s "
    "RETURNING subject, subject_id, body) "
    "INSERT INTO evaluation_comment (id, training_session_id, subject, subject_id, body) "
    "SELECT gen_random_uuid(), :s, subject, subject_id, body FROM old ORDER BY random()"
)


async def reshuffle(db_session: AsyncSession, training_session_id: uuid.UUID) -> None:
    for statement in (_RESHUFFLE_ANSWERS, _RESHUFFLE_COMMENTS):
        await db_session.execute(statement, {"s": training_session_id})
