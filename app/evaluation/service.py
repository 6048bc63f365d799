"""The anonymous evaluation (评课, docs/evaluation.md; the window: docs/rules.md rule 14): forms
and their revisions, the form attached to a session, and the answer's steps. The answer's
three transactions are run by app/evaluation/answering.py; these functions only add and flush."""

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, extract
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.clock import local_today
from app.config import EvaluationSettings
from app.db import mapping_conflicts
from app.enums import (
    EnrollmentStatus,
    EvaluationGroupBy,
    EvaluationStatus,
    EvaluationSubject,
    EvaluationWithheld,
    Role,
    SessionStatus,
)
from app.errors import ProblemFieldError
from app.evaluation import repository, rules
from app.evaluation.errors import (
    AlreadyAnswered,
    CommentsNotAllowed,
    EvaluationClosed,
    EvaluationFormNotFound,
    EvaluationHasAnswers,
    EvaluationNotFound,
    EvaluationNotOpen,
    FormSuperseded,
    InvalidAnswer,
    InvalidIndicators,
    NotEligible,
    NotFormManager,
    NotTrainee,
    OpensOnOutsideSession,
    ReferencedFormNotFound,
    SessionCancelled,
)
from app.evaluation.models import (
    EvaluationAnswer,
    EvaluationForm,
    EvaluationIndicator,
    SessionEvaluation,
)
from app.evaluation.schemas import (
    EvaluationAnswerCreate,
    EvaluationFiguresRead,
    EvaluationFormCreate,
    EvaluationFormRevisionCreate,
    EvaluationFormUpdate,
    EvaluationReportGroupRead,
    EvaluationReportRead,
    IndicatorCreate,
    IndicatorFiguresRead,
    SessionEvaluationCommentsRead,
    SessionEvaluationPut,
    SessionEvaluationReportRead,
    SubjectCommentsRead,
    SubjectReportRead,
    TeacherReviewRead,
    TeacherReviewReportRead,
    TeacherReviewSessionRead,
)
from app.http import check_if_match
from app.i18n import _
from app.ids import new_id
from app.org_unit import repository as org_units
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.org_unit.tree import subtree_ids
from app.pagination import PageParams, paginate
from app.training_session import repository as session_repository
from app.training_session import service as sessions
from app.training_session.errors import TrainingSessionNotFound
from app.training_session.models import TrainingSession

# --- forms --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormView:
    form: EvaluationForm
    indicators: list[EvaluationIndicator]


async def _views(db_session: AsyncSession, forms: Sequence[EvaluationForm]) -> list[FormView]:
    indicators = await repository.indicators_of(db_session, [f.id for f in forms])
    return [FormView(f, indicators[f.id]) for f in forms]


async def get_form(
    db_session: AsyncSession, form_id: uuid.UUID, actor: Actor, *, for_update: bool = False
) -> EvaluationForm:
    form = await repository.get_form(db_session, form_id, actor, for_update=for_update)
    if form is None:
        raise EvaluationFormNotFound()
    return form


async def form_view(db_session: AsyncSession, form: EvaluationForm) -> FormView:
    return (await _views(db_session, [form]))[0]


async def list_forms(
    db_session: AsyncSession,
    actor: Actor,
    page: PageParams,
    *,
    org_unit_id: uuid.UUID | None,
    active: bool | None,
    all_revisions: bool,
) -> tuple[list[FormView], str | None]:
    path = None
    if org_unit_id is not None:
        unit = await org_units.get(db_session, org_unit_id, actor)
        if unit is None:
            raise OrgUnitNotFound()
        path = unit.path
    stmt = repository.list_forms_query(
        actor, unit_path=path, active=active, all_revisions=all_revisions
    )
    forms, cursor = await paginate(db_session, stmt, EvaluationForm.id, page)
    return await _views(db_session, forms), cursor


async def _check_manages(db_session: AsyncSession, org_unit_id: uuid.UUID, actor: Actor) -> None:
    """An admin, or an org_admin whose subtree holds the form's unit."""
    if actor.role == Role.admin:
        return
    path = await repository.unit_path(db_session, org_unit_id)
    if actor.role != Role.org_admin or actor.org_path is None or path is None:
        raise NotFormManager()
    if not path.startswith(actor.org_path):
        raise NotFormManager()


def _check_indicators(indicators: Sequence[IndicatorCreate]) -> None:
    """At least one session indicator; a code once per subject."""
    bad: list[ProblemFieldError] = []
    if not any(i.subject == EvaluationSubject.session for i in indicators):
        bad.append(
            ProblemFieldError(
                pointer="/body/indicators",
                detail=_("a form needs at least one session indicator"),
                code="session_indicator_missing",
            )
        )
    seen: set[tuple[EvaluationSubject, str]] = set()
    for n, indicator in enumerate(indicators):
        key = (indicator.subject, indicator.code)
        if key in seen:
            bad.append(
                ProblemFieldError(
                    pointer=f"/body/indicators/{n}/code",
                    detail=_("this code is already used for this subject"),
                    code="duplicate",
                )
            )
        seen.add(key)
    if bad:
        raise InvalidIndicators(errors=bad)


async def _add_revision(
    db_session: AsyncSession,
    data: EvaluationFormRevisionCreate,
    *,
    org_unit_id: uuid.UUID,
    lineage_id: uuid.UUID | None,
    revision: int,
) -> EvaluationForm:
    form_id = new_id()
    form = EvaluationForm(
        id=form_id,
        org_unit_id=org_unit_id,
        name=data.name,
        # Revision 1 is its own lineage.
        lineage_id=form_id if lineage_id is None else lineage_id,
        revision=revision,
        allow_comments=data.allow_comments,
        active=True,
    )
    db_session.add(form)
    await db_session.flush()
    positions: Counter[EvaluationSubject] = Counter()
    for indicator in data.indicators:
        positions[indicator.subject] += 1
        db_session.add(
            EvaluationIndicator(
                form_id=form.id,
                subject=indicator.subject,
                position=positions[indicator.subject],
                code=indicator.code,
                label=indicator.label,
                weight=indicator.weight,
            )
        )
    await db_session.flush()
    return form


async def create_form(
    db_session: AsyncSession, data: EvaluationFormCreate, actor: Actor
) -> EvaluationForm:
    if await org_units.get(db_session, data.org_unit_id, actor) is None:
        raise ReferencedOrgUnitNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/org_unit_id", detail="no such org unit", code="not_found"
                )
            ]
        )
    await _check_manages(db_session, data.org_unit_id, actor)
    _check_indicators(data.indicators)
    return await _add_revision(
        db_session, data, org_unit_id=data.org_unit_id, lineage_id=None, revision=1
    )


async def revise_form(
    db_session: AsyncSession, form: EvaluationForm, data: EvaluationFormRevisionCreate, actor: Actor
) -> EvaluationForm:
    """The next revision of `form`'s lineage (`form` may be any of its revisions)."""
    await _check_manages(db_session, form.org_unit_id, actor)
    _check_indicators(data.indicators)
    newest = await repository.lock_lineage(db_session, form.lineage_id)
    return await _add_revision(
        db_session,
        data,
        org_unit_id=form.org_unit_id,
        lineage_id=form.lineage_id,
        revision=newest + 1,
    )


async def update_form(
    db_session: AsyncSession, form: EvaluationForm, data: EvaluationFormUpdate, actor: Actor
) -> EvaluationForm:
    await _check_manages(db_session, form.org_unit_id, actor)
    form.active = data.active
    await db_session.flush()
    await db_session.refresh(form)
    return form


# --- a session's evaluation (docs/rules.md rule 14) ---------------------------------------------


@dataclass(frozen=True)
class EvaluationView:
    evaluation: SessionEvaluation
    form: FormView
    window: rules.Window
    subjects: list[tuple[EvaluationSubject, uuid.UUID, str]]
    answered_count: int
    eligible_count: int
    # The organiser opened it on a day of the session (not: opened at the close, or on the day
    # it was attached to a session already closed).
    opened_early: bool
    # For a cadre: (may answer now, has answered); None for other callers.
    me: tuple[bool, bool] | None


def window_of(evaluation: SessionEvaluation, ts: TrainingSession, today: date) -> rules.Window:
    return rules.window(
        opens_on=evaluation.opens_on,
        session_closed_on=ts.closed_on,
        open_days=evaluation.open_days,
        closed_early=evaluation.closed or ts.status == SessionStatus.cancelled,
        today=today,
    )


def _eligible_statuses(evaluation: SessionEvaluation, ts: TrainingSession) -> set[EnrollmentStatus]:
    return {
        s
        for s in EnrollmentStatus
        if rules.may_answer(
            enrollment_status=s,
            session_status=ts.status,
            opened_early=_opened_early(evaluation, ts),
        )
    }


async def _managed_session(
    db_session: AsyncSession, training_session_id: uuid.UUID, actor: Actor
) -> TrainingSession:
    ts = await sessions.get_training_session(
        db_session, training_session_id, actor, for_update=True
    )
    await sessions.check_manages(db_session, ts, actor)
    return ts


async def _attachable_form(
    db_session: AsyncSession, form_id: uuid.UUID, ts: TrainingSession
) -> EvaluationForm:
    path = await repository.unit_path(db_session, ts.organiser_org_unit_id)
    assert path is not None  # the organiser exists (foreign key)
    form = await repository.usable_form(db_session, form_id, path)
    if form is None:
        raise ReferencedFormNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/form_id",
                    detail="no active form of the organiser's unit, a unit above or below it",
                    code="not_found",
                )
            ]
        )
    if await repository.newest_revision(db_session, form.lineage_id) != form.revision:
        raise FormSuperseded()
    return form


def _opening_day(data: SessionEvaluationPut, ts: TrainingSession, today: date) -> date | None:
    """The organiser's early opening day, within the session's days. Attached to a session
    already closed, it opens the day it is attached (or the day the session closed)."""
    if data.opens_on is not None and not ts.start_date <= data.opens_on <= ts.end_date:
        raise OpensOnOutsideSession(
            errors=[
                ProblemFieldError(
                    pointer="/body/opens_on",
                    detail=_("from {start} to {end}").format(start=ts.start_date, end=ts.end_date),
                    code="out_of_range",
                )
            ]
        )
    if ts.status == SessionStatus.closed and data.opens_on is None:
        return max(today, ts.closed_on or today)
    return data.opens_on


async def attach(
    db_session: AsyncSession,
    training_session_id: uuid.UUID,
    data: SessionEvaluationPut,
    actor: Actor,
    *,
    open_days: int,
    if_match: str | None,
) -> SessionEvaluation:
    """Attach a form to the session, or change the form or the opening day (docs/rules.md rule
    14). Another form only while nobody has answered; never once closed."""
    ts = await _managed_session(db_session, training_session_id, actor)
    if ts.status == SessionStatus.cancelled:
        raise SessionCancelled()
    form = await _attachable_form(db_session, data.form_id, ts)
    today = local_today()
    opens_on = _opening_day(data, ts, today)
    existing = await repository.get_session_evaluation(db_session, ts.id, for_update=True)
    if existing is None:
        evaluation = SessionEvaluation(
            training_session_id=ts.id, form_id=form.id, opens_on=opens_on, open_days=open_days
        )
        db_session.add(evaluation)
        await db_session.flush()
        return evaluation
    check_if_match(if_match, existing.version)
    if window_of(existing, ts, today).status == EvaluationStatus.closed:
        raise EvaluationClosed()
    if existing.form_id != form.id and await repository.has_answers(db_session, ts.id):
        raise EvaluationHasAnswers()
    if ts.status == SessionStatus.closed and data.opens_on is None:
        # Open since the close (or since attached): changing the form does not move the window.
        opens_on = existing.opens_on
    existing.form_id = form.id
    existing.opens_on = opens_on
    await db_session.flush()
    await db_session.refresh(existing)
    return existing


async def close(
    db_session: AsyncSession, training_session_id: uuid.UUID, actor: Actor
) -> SessionEvaluation:
    """Close the evaluation before its last day (the organiser)."""
    ts = await _managed_session(db_session, training_session_id, actor)
    evaluation = await repository.get_session_evaluation(db_session, ts.id, for_update=True)
    if evaluation is None:
        raise EvaluationNotFound()
    if window_of(evaluation, ts, local_today()).status == EvaluationStatus.closed:
        raise EvaluationClosed()
    evaluation.closed = True
    await db_session.flush()
    await db_session.refresh(evaluation)
    return evaluation


async def _readable_session(
    db_session: AsyncSession, training_session_id: uuid.UUID, actor: Actor
) -> TrainingSession:
    """Whoever can read the session, and its own trainees (a cadre moved to another unit
    still reads the evaluation of a session it attended)."""
    ts = await session_repository.get(db_session, training_session_id, actor)
    if ts is not None:
        return ts
    if actor.role == Role.cadre and actor.cadre_id is not None:
        ts = await session_repository.get(db_session, training_session_id)
        if ts is not None and await repository.enrollment_of(db_session, ts.id, actor.cadre_id):
            return ts
    raise TrainingSessionNotFound()


async def read(
    db_session: AsyncSession, training_session_id: uuid.UUID, actor: Actor
) -> EvaluationView:
    ts = await _readable_session(db_session, training_session_id, actor)
    evaluation = await repository.get_session_evaluation(db_session, ts.id)
    if evaluation is None:
        raise EvaluationNotFound()
    form = await repository.get_form(db_session, evaluation.form_id)
    assert form is not None  # foreign key
    window = window_of(evaluation, ts, local_today())
    me = None
    if actor.role == Role.cadre and actor.cadre_id is not None:
        me = await _me(db_session, evaluation, ts, actor.cadre_id, window)
    return EvaluationView(
        evaluation=evaluation,
        form=await form_view(db_session, form),
        window=window,
        subjects=[
            (EvaluationSubject.session, ts.id, ts.title),
            *await repository.session_subjects(db_session, ts),
        ],
        answered_count=await repository.answered_count(db_session, ts.id),
        eligible_count=await repository.eligible_count(
            db_session, ts.id, _eligible_statuses(evaluation, ts)
        ),
        opened_early=_opened_early(evaluation, ts),
        me=me,
    )


def _opened_early(evaluation: SessionEvaluation, ts: TrainingSession) -> bool:
    return evaluation.opens_on is not None and evaluation.opens_on <= ts.end_date


async def _me(
    db_session: AsyncSession,
    evaluation: SessionEvaluation,
    ts: TrainingSession,
    cadre_id: uuid.UUID,
    window: rules.Window,
) -> tuple[bool, bool]:
    enrollment = await repository.enrollment_of(db_session, ts.id, cadre_id)
    if enrollment is None:
        return False, False
    answered = await repository.has_answered(db_session, enrollment.id)
    eligible = enrollment.status in _eligible_statuses(evaluation, ts)
    return (eligible and not answered and window.status == EvaluationStatus.open), answered


# --- answering (docs/evaluation.md): run by app/evaluation/answering.py --------------------------


@dataclass(frozen=True)
class Claim:
    """What the marker's transaction decided: the marker, and the rows the answer's
    transaction writes (nothing in them names the enrollment)."""

    marker_id: uuid.UUID
    training_session_id: uuid.UUID
    answers: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)


async def claim(
    db_session: AsyncSession,
    training_session_id: uuid.UUID,
    data: EvaluationAnswerCreate,
    actor: Actor,
) -> Claim:
    """Check that the caller may answer and that the answer fits the form, and record that its
    enrollment has answered (the marker). Runs in a transaction of its own, attributed to the
    caller; the answer is written in the next one."""
    ts = await _readable_session(db_session, training_session_id, actor)
    evaluation = await repository.get_session_evaluation(db_session, ts.id)
    if evaluation is None:
        raise EvaluationNotFound()
    enrollment = (
        None
        if actor.cadre_id is None
        else await repository.enrollment_of(db_session, ts.id, actor.cadre_id)
    )
    if enrollment is None:
        raise NotTrainee()
    if window_of(evaluation, ts, local_today()).status != EvaluationStatus.open:
        raise EvaluationNotOpen()
    if enrollment.status not in _eligible_statuses(evaluation, ts):
        raise NotEligible(_("The enrollment is {status}.").format(status=enrollment.status.value))
    if await repository.has_answered(db_session, enrollment.id):
        raise AlreadyAnswered()
    form = await repository.get_form(db_session, evaluation.form_id)
    assert form is not None  # foreign key
    answers, comments = await _rows(db_session, ts, await form_view(db_session, form), data)
    # Two requests of one trainee at once: the marker's unique key lets one through.
    with mapping_conflicts({"uq_evaluation_answered_enrollment_id": AlreadyAnswered()}):
        marker_id = await repository.add_marker(db_session, enrollment.id)
    return Claim(marker_id, ts.id, answers, comments)


def _bad(pointer: str, detail: str, code: str) -> ProblemFieldError:
    return ProblemFieldError(pointer=pointer, detail=detail, code=code)


async def _rows(
    db_session: AsyncSession, ts: TrainingSession, form: FormView, data: EvaluationAnswerCreate
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The answer's rows, one per rated subject and one per comment, checked against the form
    and the session's subjects; 422 with a pointer per fault."""
    allowed = {(EvaluationSubject.session, ts.id)} | {
        (kind, subject_id)
        for kind, subject_id, _label in await repository.session_subjects(db_session, ts)
    }
    scale = Counter(i.subject for i in form.indicators)
    bad: list[ProblemFieldError] = []
    rated: set[tuple[EvaluationSubject, uuid.UUID]] = set()
    answers: list[dict[str, Any]] = []
    for n, rating in enumerate(data.ratings):
        at = f"/body/ratings/{n}"
        key = _subject_key(rating.subject, rating.subject_id, ts)
        fault = _subject_fault(key, allowed, rated, at)
        if fault is None and len(rating.scores) != scale[rating.subject]:
            fault = _bad(
                f"{at}/scores",
                _("the form has {count} indicators for this subject").format(
                    count=scale[rating.subject]
                ),
                "wrong_length",
            )
        if fault is not None:
            bad.append(fault)
            continue
        assert key is not None
        rated.add(key)
        answers.append(
            {
                "training_session_id": ts.id,
                "form_id": form.form.id,
                "subject": key[0],
                "subject_id": key[1],
                "scores": list(rating.scores),
            }
        )
    if sum(1 for r in data.ratings if r.subject == EvaluationSubject.session) != 1:
        bad.append(_bad("/body/ratings", _("rate the session exactly once"), "session_rating"))
    if bad:
        raise InvalidAnswer(errors=bad)
    return answers, _comment_rows(ts, form, data, rated)


def _subject_key(
    subject: EvaluationSubject, subject_id: uuid.UUID | None, ts: TrainingSession
) -> tuple[EvaluationSubject, uuid.UUID] | None:
    if subject == EvaluationSubject.session:
        return (subject, ts.id) if subject_id in (None, ts.id) else None
    return None if subject_id is None else (subject, subject_id)


def _subject_fault(
    key: tuple[EvaluationSubject, uuid.UUID] | None,
    allowed: set[tuple[EvaluationSubject, uuid.UUID]],
    seen: set[tuple[EvaluationSubject, uuid.UUID]],
    at: str,
) -> ProblemFieldError | None:
    if key is None or key not in allowed:
        return _bad(f"{at}/subject_id", _("not a subject of this session"), "not_found")
    if key in seen:
        return _bad(f"{at}/subject_id", _("this subject is already rated"), "duplicate")
    return None


def _comment_rows(
    ts: TrainingSession,
    form: FormView,
    data: EvaluationAnswerCreate,
    rated: set[tuple[EvaluationSubject, uuid.UUID]],
) -> list[dict[str, Any]]:
    if data.comments and not form.form.allow_comments:
        raise CommentsNotAllowed()
    bad: list[ProblemFieldError] = []
    seen: set[tuple[EvaluationSubject, uuid.UUID]] = set()
    rows: list[dict[str, Any]] = []
    for n, comment in enumerate(data.comments):
        key = _subject_key(comment.subject, comment.subject_id, ts)
        if key is None or key not in rated:
            bad.append(
                _bad(
                    f"/body/comments/{n}/subject_id",
                    _("comment only on a subject you rate"),
                    "not_rated",
                )
            )
            continue
        if key in seen:
            bad.append(
                _bad(f"/body/comments/{n}/subject_id", _("one comment per subject"), "duplicate")
            )
            continue
        seen.add(key)
        rows.append(
            {
                "training_session_id": ts.id,
                "subject": key[0],
                "subject_id": key[1],
                "body": comment.body,
            }
        )
    if bad:
        raise InvalidAnswer(errors=bad)
    return rows


async def record(db_session: AsyncSession, claim_: Claim) -> None:
    """Write the answer: its rows, then every answer row of the session again, reshuffled
    (docs/evaluation.md). Runs in a transaction that sets no actor and leaves no trail."""
    await repository.serialise_answers(db_session, claim_.training_session_id)
    await repository.insert_answers(db_session, claim_.answers, claim_.comments)
    await repository.reshuffle(db_session, claim_.training_session_id)


async def unclaim(db_session: AsyncSession, marker_id: uuid.UUID) -> None:
    """The answer was not written: remove the marker so that the trainee may answer again."""
    await repository.delete_marker(db_session, marker_id)


# ---------------------------------------------------------------------------------------------
# Reports (rule 14, the figures): a session's report and comments, the grouped report, and the
# teacher reviews. The sums come from SQL (repository.tallies); the arithmetic from
# app/evaluation/rules.py, so both paths give the same figures.

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
    subjects += await repository.session_subjects(db_session, session)
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
    rated = [(EvaluationSubject(str(k[0])), uuid.UUID(str(k[1]))) for k in by_key_sums]
    closed = found.status == EvaluationStatus.closed
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
                answers=tally.answers,
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
    rated = [(EvaluationSubject(str(k[0])), uuid.UUID(str(k[1]))) for k in answers]
    closed = found.status == EvaluationStatus.closed
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
