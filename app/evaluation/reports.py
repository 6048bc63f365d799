"""Evaluation reports (docs/rules.md rule 14, the figures; docs/evaluation.md "Reports"): a
session's report and comments, the report grouped across sessions, and the teacher reviews. The
sums come from SQL (repository.tallies); the arithmetic from app/evaluation/rules.py, so both
paths give the same figures."""

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import ColumnElement, extract
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.config import EvaluationSettings
from app.enums import (
    EvaluationGroupBy,
    EvaluationStatus,
    EvaluationSubject,
    EvaluationWithheld,
)
from app.evaluation import repository, rules
from app.evaluation.errors import (
    EvaluationNotFound,
)
from app.evaluation.models import (
    EvaluationAnswer,
)
from app.evaluation.schemas import (
    EvaluationFiguresRead,
    EvaluationReportGroupRead,
    EvaluationReportRead,
    IndicatorFiguresRead,
    SessionEvaluationCommentsRead,
    SessionEvaluationReportRead,
    SubjectCommentsRead,
    SubjectReportRead,
    TeacherReviewRead,
    TeacherReviewReportRead,
    TeacherReviewSessionRead,
)
from app.evaluation.service import session_subjects, window_of
from app.i18n import _
from app.org_unit import repository as org_units
from app.org_unit.errors import OrgUnitNotFound
from app.org_unit.tree import subtree_ids
from app.training_session.errors import TrainingSessionNotFound
from app.training_session.models import TrainingSession

_SUBJECT_ORDER = {
    EvaluationSubject.session: 0,
    EvaluationSubject.course: 1,
    EvaluationSubject.teacher: 2,
}


def group_tally(
    sums: Iterable[repository.SessionSums], codes: Iterable[repository.CodeSums]
) -> rules.GroupTally:
    """A group's tally from the SQL sums (per session and form, per code)."""
    listed = list(sums)
    return rules.GroupTally(
        answers=sum(s.answers for s in listed),
        score_sum=rules.form_score_sum((s.numerator, s.denominator) for s in listed),
        satisfied=sum(s.satisfied for s in listed),
        indicators=tuple(
            rules.IndicatorTally(c.code, c.label, c.position, c.answers, c.score_total)
            for c in codes
        ),
    )


def _figures_read(figures: rules.Figures) -> EvaluationFiguresRead:
    return EvaluationFiguresRead(
        weighted_score=figures.weighted_score,
        satisfaction_rate=figures.satisfaction_rate,
        indicators=[
            IndicatorFiguresRead(code=m.code, label=m.label, answers=m.answers, mean=m.mean)
            for m in figures.means
        ],
    )


def shown(
    tally: rules.GroupTally, *, closed: bool, min_answers: int
) -> tuple[EvaluationFiguresRead | None, EvaluationWithheld | None]:
    """Rule 14: figures only once the evaluation is closed, and only for a group of at least
    `min_answers` answers (an open evaluation read before and after one trainee answers would
    tell that trainee's scores)."""
    if not closed:
        return None, EvaluationWithheld.not_closed
    figures = rules.figures(tally, min_answers)
    if figures is None:
        return None, EvaluationWithheld.too_few_answers
    return _figures_read(figures), None


@dataclass(frozen=True)
class _Evaluated:
    session: TrainingSession
    status: EvaluationStatus


async def _evaluated(
    db_session: AsyncSession,
    scope: ColumnElement[bool],
    training_session_id: uuid.UUID,
    today: dt.date,
) -> _Evaluated:
    session = await repository.readable_session(db_session, training_session_id, scope)
    if session is None:
        raise TrainingSessionNotFound()
    evaluation = await repository.get_session_evaluation(db_session, training_session_id)
    if evaluation is None:
        raise EvaluationNotFound()
    return _Evaluated(session, window_of(evaluation, session, today).status)


async def _subjects(
    db_session: AsyncSession,
    session: TrainingSession,
    rated: Iterable[tuple[EvaluationSubject, uuid.UUID]],
) -> list[tuple[EvaluationSubject, uuid.UUID, str]]:
    """The session, then its courses and teachers as its evaluation lists them, then any
    other subject its answers rated (named by the parts when answered, since replaced)."""
    subjects = [(EvaluationSubject.session, session.id, session.title)]
    subjects += await session_subjects(db_session, session)
    known = {(s, i) for s, i, _ in subjects}
    others: list[tuple[EvaluationSubject, uuid.UUID, str]] = []
    for subject in EvaluationSubject:
        ids = sorted({i for s, i in rated if s == subject and (s, i) not in known})
        labels = await repository.subject_labels(db_session, subject, ids)
        others.extend((subject, i, labels.get(i, "")) for i in ids)
    return subjects + sorted(others, key=lambda s: (_SUBJECT_ORDER[s[0]], s[2], s[1]))


async def session_report(
    db_session: AsyncSession,
    actor: Actor,
    settings: EvaluationSettings,
    training_session_id: uuid.UUID,
    today: dt.date,
) -> SessionEvaluationReportRead:
    """One group for the session, one per course and one per teacher (rule 14)."""
    found = await _evaluated(db_session, repository.report_scope(actor), training_session_id, today)
    sums, codes = await repository.tallies(
        db_session,
        [EvaluationAnswer.subject, EvaluationAnswer.subject_id],
        [EvaluationAnswer.training_session_id == training_session_id],
    )
    by_key_sums: dict[tuple[object, ...], list[repository.SessionSums]] = defaultdict(list)
    by_key_codes: dict[tuple[object, ...], list[repository.CodeSums]] = defaultdict(list)
    for s in sums:
        by_key_sums[s.key].append(s)
    for c in codes:
        by_key_codes[c.key].append(c)
    closed = found.status == EvaluationStatus.closed
    # While open, nothing says which subjects the answers rated: neither a count per course or
    # teacher nor a subject only an answer names. Polled beside the audited "has answered"
    # marker (its time and enrollment), a count per subject would tell which subjects a named
    # trainee rated. The session's own count is the number of markers, public anyway.
    rated = (
        [(EvaluationSubject(str(k[0])), uuid.UUID(str(k[1]))) for k in by_key_sums]
        if closed
        else []
    )
    groups = []
    for subject, subject_id, label in await _subjects(db_session, found.session, rated):
        key = (subject, subject_id)
        tally = group_tally(by_key_sums[key], by_key_codes[key])
        figures, withheld = shown(tally, closed=closed, min_answers=settings.min_answers)
        groups.append(
            SubjectReportRead(
                subject=subject,
                subject_id=subject_id,
                label=label,
                answers=(tally.answers if closed or subject == EvaluationSubject.session else None),
                figures=figures,
                withheld=withheld,
            )
        )
    return SessionEvaluationReportRead(
        training_session_id=training_session_id,
        status=found.status,
        min_answers=settings.min_answers,
        groups=groups,
    )


async def session_comments(
    db_session: AsyncSession,
    actor: Actor,
    settings: EvaluationSettings,
    training_session_id: uuid.UUID,
    today: dt.date,
) -> SessionEvaluationCommentsRead:
    """The comments, grouped by subject and sorted by text, shown only where the figures
    would show: the evaluation closed and the subject rated by at least the minimum answers.
    Never with figures (rule 14)."""
    found = await _evaluated(
        db_session, repository.comment_scope(actor), training_session_id, today
    )
    sums, _codes = await repository.tallies(
        db_session,
        [EvaluationAnswer.subject, EvaluationAnswer.subject_id],
        [EvaluationAnswer.training_session_id == training_session_id],
    )
    answers: dict[tuple[object, ...], int] = defaultdict(int)
    for s in sums:
        answers[s.key] += s.answers
    comments: dict[tuple[object, ...], list[str]] = defaultdict(list)
    for subject, subject_id, body in await repository.comments_of(db_session, training_session_id):
        comments[(subject, subject_id)].append(body)
    closed = found.status == EvaluationStatus.closed
    # As in the report: while open, no subject appears that only the answers name.
    rated = (
        [(EvaluationSubject(str(k[0])), uuid.UUID(str(k[1]))) for k in answers] if closed else []
    )
    groups = []
    for subject, subject_id, label in await _subjects(db_session, found.session, rated):
        key = (subject, subject_id)
        withheld = (
            EvaluationWithheld.not_closed
            if not closed
            else EvaluationWithheld.too_few_answers
            if answers[key] < settings.min_answers
            else None
        )
        groups.append(
            SubjectCommentsRead(
                subject=subject,
                subject_id=subject_id,
                label=label,
                comments=sorted(comments[key]) if withheld is None else [],
                withheld=withheld,
            )
        )
    return SessionEvaluationCommentsRead(
        training_session_id=training_session_id, status=found.status, groups=groups
    )


def _group_key(group_by: EvaluationGroupBy) -> tuple[repository.GroupKey, EvaluationSubject]:
    """What the grouped report groups by, and the answers it reads: a course's and a teacher's
    own answers; the session answers for a session, a provider and a year (the year the
    session ended)."""
    match group_by:
        case EvaluationGroupBy.course:
            return EvaluationAnswer.subject_id, EvaluationSubject.course
        case EvaluationGroupBy.teacher:
            return EvaluationAnswer.subject_id, EvaluationSubject.teacher
        case EvaluationGroupBy.provider:
            return TrainingSession.provider, EvaluationSubject.session
        case EvaluationGroupBy.year:
            return extract("year", TrainingSession.end_date), EvaluationSubject.session
    return TrainingSession.id, EvaluationSubject.session


async def _report_filters(
    db_session: AsyncSession,
    actor: Actor,
    org_unit_id: uuid.UUID | None,
    today: dt.date,
) -> list[ColumnElement[bool]]:
    """Reports across sessions: the sessions in scope and their closed evaluations."""
    where = [repository.report_scope(actor), repository.evaluation_closed(today)]
    if org_unit_id is not None:
        unit = await org_units.get(db_session, org_unit_id, actor)
        if unit is None:
            raise OrgUnitNotFound()
        where.append(TrainingSession.organiser_org_unit_id.in_(subtree_ids(unit.path)))
    return where


async def _key_labels(
    db_session: AsyncSession, group_by: EvaluationGroupBy, keys: Sequence[object]
) -> dict[object, str]:
    if group_by in (EvaluationGroupBy.session, EvaluationGroupBy.course, EvaluationGroupBy.teacher):
        subject = EvaluationSubject(str(group_by))
        labels = await repository.subject_labels(
            db_session, subject, [uuid.UUID(str(k)) for k in keys]
        )
        return {k: labels.get(uuid.UUID(str(k)), "") for k in keys}
    if group_by == EvaluationGroupBy.provider:
        return {k: str(k) if k is not None else _("Sessions without a provider") for k in keys}
    return {k: str(int(str(k))) for k in keys}


def _key_text(key: object) -> str | None:
    if key is None:
        return None
    if isinstance(key, Decimal | float | int):
        return str(int(key))
    return str(key)


async def evaluation_report(
    db_session: AsyncSession,
    actor: Actor,
    settings: EvaluationSettings,
    *,
    group_by: EvaluationGroupBy,
    year: int | None,
    org_unit_id: uuid.UUID | None,
    limit: int,
    today: dt.date,
) -> EvaluationReportRead:
    """Rule 14 over the sessions organised in the caller's subtree (org_admin) or all (admin,
    auditor), closed evaluations only."""
    key, subject = _group_key(group_by)
    where = await _report_filters(db_session, actor, org_unit_id, today)
    where.append(EvaluationAnswer.subject == subject)
    if year is not None:
        where.append(extract("year", TrainingSession.end_date) == year)
    sums, codes = await repository.tallies(
        db_session, [key], where, cell_minimum=settings.min_answers
    )
    by_key_sums: dict[object, list[repository.SessionSums]] = defaultdict(list)
    by_key_codes: dict[object, list[repository.CodeSums]] = defaultdict(list)
    for s in sums:
        by_key_sums[s.key[0]].append(s)
    for c in codes:
        by_key_codes[c.key[0]].append(c)
    labels = await _key_labels(db_session, group_by, list(by_key_sums))
    groups = []
    for k, listed in by_key_sums.items():
        tally = group_tally(listed, by_key_codes[k])
        figures, withheld = shown(tally, closed=True, min_answers=settings.min_answers)
        groups.append(
            EvaluationReportGroupRead(
                key=_key_text(k),
                label=labels[k],
                sessions=len({s.training_session_id for s in listed}),
                answers=tally.answers,
                figures=figures,
                withheld=withheld,
            )
        )
    groups.sort(key=lambda g: (g.label, g.key or ""))
    return EvaluationReportRead(
        group_by=group_by,
        year=year,
        org_unit_id=org_unit_id,
        min_answers=settings.min_answers,
        groups=groups[:limit],
        truncated=len(groups) > limit,
    )


async def teacher_reviews(
    db_session: AsyncSession,
    actor: Actor,
    settings: EvaluationSettings,
    *,
    org_unit_id: uuid.UUID | None,
    today: dt.date,
) -> TeacherReviewReportRead:
    """Rule 14: teachers whose weighted score was below APP_EVALUATION__REVIEW_BELOW in each of
    their latest APP_EVALUATION__REVIEW_SESSIONS sessions with figures (师资退出)."""
    where = await _report_filters(db_session, actor, org_unit_id, today)
    where.append(EvaluationAnswer.subject == EvaluationSubject.teacher)
    sums, _codes = await repository.tallies(
        db_session, [EvaluationAnswer.subject_id], where, cell_minimum=settings.min_answers
    )
    per_teacher: dict[uuid.UUID, list[rules.SessionScore]] = defaultdict(list)
    answers: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for s in sums:
        teacher_id = uuid.UUID(str(s.key[0]))
        score = (
            Fraction(s.numerator, s.denominator) / s.answers
            if s.answers >= settings.min_answers
            else None
        )
        per_teacher[teacher_id].append(rules.SessionScore(s.training_session_id, s.end_date, score))
        answers[(teacher_id, s.training_session_id)] = s.answers
    flagged = {
        teacher_id: run
        for teacher_id, scores in per_teacher.items()
        if (
            run := rules.review_flag(
                scores, below=settings.review_below, count=settings.review_sessions
            )
        )
        is not None
    }
    names = await repository.subject_labels(db_session, EvaluationSubject.teacher, list(flagged))
    titles = await repository.subject_labels(
        db_session,
        EvaluationSubject.session,
        list({s.training_session_id for run in flagged.values() for s in run}),
    )
    teachers = [
        TeacherReviewRead(
            teacher_id=teacher_id,
            name=names.get(teacher_id, ""),
            sessions=[
                TeacherReviewSessionRead(
                    training_session_id=s.training_session_id,
                    title=titles.get(s.training_session_id, ""),
                    end_date=s.end_date,
                    answers=answers[(teacher_id, s.training_session_id)],
                    weighted_score=rules.round_half_up(s.score or Fraction(0), rules.SCORE_PLACES),
                )
                for s in run
            ],
        )
        for teacher_id, run in flagged.items()
    ]
    teachers.sort(key=lambda t: (t.name, t.teacher_id))
    return TeacherReviewReportRead(
        org_unit_id=org_unit_id,
        review_below=settings.review_below,
        review_sessions=settings.review_sessions,
        min_answers=settings.min_answers,
        teachers=teachers,
    )
