"""Every query of the anonymous evaluation (docs/evaluation.md), and its scope statements.

The answer tables are written here only by `insert_answers` and `reshuffle`, which leave no
trace of who answered or when (docs/evaluation.md)."""

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    false,
    func,
    or_,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, aliased

from app.actor import Actor
from app.catalogue.models import Course, Teacher
from app.db import any_of
from app.enrollment.models import Enrollment
from app.enums import EnrollmentStatus, EvaluationSubject, Role, SessionStatus
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
from app.training_session.models import TrainingSession

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
    db_session: AsyncSession,
    training_session_id: uuid.UUID,
    *,
    for_update: bool = False,
    for_share: bool = False,
) -> SessionEvaluation | None:
    """The session's evaluation; `for_share` while an answer is claimed (so that attaching
    another form or closing, `for_update`, waits for the claim's commit and sees its marker)."""
    stmt = select(SessionEvaluation).where(
        SessionEvaluation.training_session_id == training_session_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    elif for_share:
        stmt = stmt.with_for_update(read=True)
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


async def teachers_of_courses(
    db_session: AsyncSession, course_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """The catalogue teachers of `course_ids`, each once, in the courses' order."""
    rows = (
        await db_session.execute(
            select(Course.id, Course.teacher_ids).where(any_of(Course.id, list(course_ids)))
        )
    ).all()
    by_id: dict[uuid.UUID, list[uuid.UUID]] = {row[0]: list(row[1]) for row in rows}
    return list(dict.fromkeys(t for c in course_ids for t in by_id.get(c, [])))


async def subject_names(
    db_session: AsyncSession, course_ids: Sequence[uuid.UUID], teacher_ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
    """The courses' titles and the teachers' names, from the catalogue."""
    return await _titles(db_session, course_ids), await _names(db_session, teacher_ids)


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
    leave its xid in xmax). Closing the evaluation and attaching a form take it too, before
    the evaluation's row: they wait for an answer in flight, and an answer after them reads
    their change once it holds the lock (app/evaluation/service.record)."""
    await db_session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('evaluation:' || :s, 0))"),
        {"s": str(training_session_id)},
    )


# docs/evaluation.md "What remains": the server's statement log would hold the marker's INSERT
# and then the answer's, with their parameters, from one backend milliseconds apart. These are
# superuser-only settings: set off for the answer's transaction where the role may (PostgreSQL
# 15's has_parameter_privilege; a superuser may), left alone otherwise (the database's own
# configuration must keep them off).
_QUIET_LOG = text(
    "SELECT set_config(name, value, true) FROM (VALUES "
    "('log_statement', 'none'), ('log_min_duration_statement', '-1'), "
    "('log_min_duration_sample', '-1'), ('log_duration', 'off'), "
    "('log_transaction_sample_rate', '0')) AS v(name, value) "
    "WHERE has_parameter_privilege(name, 'SET')"
)


async def quiet_statement_log(db_session: AsyncSession) -> None:
    await db_session.execute(_QUIET_LOG)


async def current_xact_id(db_session: AsyncSession) -> str:
    """The transaction's id, kept in memory only: whether the answer's COMMIT took effect when
    its acknowledgement was lost (app/evaluation/answering.py)."""
    return str(await db_session.scalar(text("SELECT pg_current_xact_id()::text")))


async def xact_status(db_session: AsyncSession, xact_id: str) -> str | None:
    """'committed', 'aborted' or 'in progress' (None: too old to tell)."""
    status = await db_session.scalar(
        text("SELECT pg_xact_status(CAST(CAST(:x AS text) AS xid8))"), {"x": xact_id}
    )
    return None if status is None else str(status)


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


# ---------------------------------------------------------------------------------------------
# Reports (rule 14, the figures). The answers are aggregated in SQL, grouped; each answer's
# scores are matched to its form's indicators by (form_id, subject, position) with
# `unnest(scores) WITH ORDINALITY`. Weights are summed in hundredths (integers), so a group's
# exact weighted score follows from these sums without rounding (app/evaluation/rules.py).

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
    """The window rule's `closed` in SQL (service.window_of): closed early by the organiser, the
    session cancelled, or past closes_on =
    effective opening day (opens_on, else the session's closed_on) + open_days − 1."""
    opening = func.coalesce(SessionEvaluation.opens_on, TrainingSession.closed_on)
    return or_(
        SessionEvaluation.closed.is_(True),
        TrainingSession.status == SessionStatus.cancelled,
        # Never NULL: no opening day yet is not closed.
        and_(opening.is_not(None), opening + (SessionEvaluation.open_days - 1) < today),
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
    *,
    cell_minimum: int | None = None,
) -> tuple[list[SessionSums], list[CodeSums]]:
    """The answers matching `where` (over evaluation_answer, training_session and
    session_evaluation), summed per group (`keys`) and session, and per group and code.

    With `cell_minimum`, only the answers whose session shows figures for their subject on its
    own: at least that many of the matching answers rate that subject in that session. A report
    across sessions reads only these, so reading it before and after one more evaluation closes
    tells the figures of at least that many answers, never of one (docs/rules.md rule 14)."""
    if cell_minimum is not None:
        cell = (
            EvaluationAnswer.training_session_id,
            EvaluationAnswer.subject,
            EvaluationAnswer.subject_id,
        )
        shown = (
            select(*cell)
            .join(TrainingSession, TrainingSession.id == EvaluationAnswer.training_session_id)
            .join(
                SessionEvaluation,
                SessionEvaluation.training_session_id == EvaluationAnswer.training_session_id,
            )
            .where(*where)
            .group_by(*cell)
            .having(func.count() >= cell_minimum)
            .correlate(None)
        )
        where = [*where, tuple_(*cell).in_(shown)]
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
