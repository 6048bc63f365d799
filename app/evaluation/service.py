"""The anonymous evaluation (评课, docs/evaluation.md; the window: docs/rules.md rule 14): forms
and their revisions, the form attached to a session, and the answer's steps. The answer's
three transactions are run by app/evaluation/answering.py; these functions only add and flush."""

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.clock import local_today
from app.db import mapping_conflicts
from app.enums import (
    EnrollmentStatus,
    EvaluationStatus,
    EvaluationSubject,
    NotificationKind,
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
    FormChanged,
    FormSuperseded,
    InvalidAnswer,
    InvalidIndicators,
    NotEligible,
    NotFormManager,
    NotTrainee,
    OpensOnAfterClose,
    OpensOnOutsideSession,
    ReferencedFormNotFound,
    SessionCancelled,
)
from app.evaluation.models import (
    EvaluationForm,
    EvaluationIndicator,
    SessionEvaluation,
)
from app.evaluation.schemas import (
    EvaluationAnswerCreate,
    EvaluationFormCreate,
    EvaluationFormRevisionCreate,
    EvaluationFormUpdate,
    IndicatorCreate,
    SessionEvaluationPut,
)
from app.http import check_if_match
from app.i18n import _
from app.ids import new_id
from app.notification import service as notifications
from app.org_unit import repository as org_units
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.pagination import PageParams, paginate
from app.training_session import parts as session_parts
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
    already closed, it opens the day it is attached (NULL: the day the session closed, if
    that is today): no opening day may be given then, since a day of the session is past and
    would close the window at once (422)."""
    if data.opens_on is not None and ts.status == SessionStatus.closed:
        raise OpensOnAfterClose(
            errors=[
                ProblemFieldError(
                    pointer="/body/opens_on",
                    detail=_("the session is closed: leave the opening day out"),
                    code="session_closed",
                )
            ]
        )
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
    if ts.status == SessionStatus.closed and (ts.closed_on is None or today > ts.closed_on):
        return today
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
    # After an answer in flight (it reads the form again), and after a claim (its marker:
    # has_answers). Before the session's row: the answer's rows lock it (their foreign key).
    await repository.serialise_answers(db_session, training_session_id)
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
        await _notify_opened(db_session, evaluation, ts, today)
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
    await _notify_opened(db_session, existing, ts, today)
    return existing


async def _notify_opened(
    db_session: AsyncSession, evaluation: SessionEvaluation, ts: TrainingSession, today: date
) -> None:
    """Opened early by the organiser and open today: each trainee who may answer hears of it,
    in this transaction (docs/notifications.md). The key is the reminder job's, so a trainee
    hears once per evaluation, whether from here or from the job."""
    window = window_of(evaluation, ts, today)
    if not _opened_early(evaluation, ts) or window.status != EvaluationStatus.open:
        return
    await notifications.notify_enrollees(
        db_session,
        ts.id,
        {s.value for s in _eligible_statuses(evaluation, ts)},
        kind=NotificationKind.evaluation_opened,
        params={"session_title": ts.title, "closes_on": window.closes_on},
        key_prefix=f"evaluation_opened:{evaluation.id}",
    )


async def close(
    db_session: AsyncSession, training_session_id: uuid.UUID, actor: Actor
) -> SessionEvaluation:
    """Close the evaluation before its last day (the organiser)."""
    # An answer in flight commits first; one after the close reads it and is refused. Before
    # the session's row: the answer's rows lock it (their foreign key).
    await repository.serialise_answers(db_session, training_session_id)
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
            *await session_subjects(db_session, ts),
        ],
        answered_count=await repository.answered_count(db_session, ts.id),
        eligible_count=await repository.eligible_count(
            db_session, ts.id, _eligible_statuses(evaluation, ts)
        ),
        opened_early=_opened_early(evaluation, ts),
        me=me,
    )


async def session_subjects(
    db_session: AsyncSession, ts: TrainingSession
) -> list[tuple[EvaluationSubject, uuid.UUID, str]]:
    """The courses and teachers of the session, each once, in teaching order. The courses are
    the ones the session teaches by the training_session domain's one definition
    (`courses_taught`: its parts' courses, or its `course_ids` without parts), so that what a
    trainee may rate and what a certificate or qualification counts agree; the teachers are
    its parts', or without parts those courses' catalogue teachers. A course or teacher no
    longer in the catalogue is listed with an empty label."""
    course_ids = await session_parts.courses_taught(db_session, ts)
    parts = await session_parts.list_parts(db_session, ts)
    if parts:
        teacher_ids = list(dict.fromkeys(p.teacher_id for p in parts if p.teacher_id is not None))
    else:
        teacher_ids = await repository.teachers_of_courses(db_session, course_ids)
    courses, teachers = await repository.subject_names(db_session, course_ids, teacher_ids)
    return [(EvaluationSubject.course, c, courses.get(c, "")) for c in course_ids] + [
        (EvaluationSubject.teacher, t, teachers.get(t, "")) for t in teacher_ids
    ]


def _opened_early(evaluation: SessionEvaluation, ts: TrainingSession) -> bool:
    """Opened on a day of the session, before it closed: an evaluation attached after the
    close opens after `closed_on` (or has no `opens_on`), even when the session closed before
    its end date."""
    opens_on = evaluation.opens_on
    return (
        opens_on is not None
        and opens_on <= ts.end_date
        and (ts.closed_on is None or opens_on <= ts.closed_on)
    )


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
    form_id: uuid.UUID
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
    # Shared: another form is attached (or the evaluation closed) only once this claim has
    # committed its marker, which attach() then sees (409 evaluation.has_answers).
    evaluation = await repository.get_session_evaluation(db_session, ts.id, for_share=True)
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
    return Claim(marker_id, ts.id, evaluation.form_id, answers, comments)


def _bad(pointer: str, detail: str, code: str) -> ProblemFieldError:
    return ProblemFieldError(pointer=pointer, detail=detail, code=code)


async def _rows(
    db_session: AsyncSession, ts: TrainingSession, form: FormView, data: EvaluationAnswerCreate
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The answer's rows, one per rated subject and one per comment, checked against the form
    and the session's subjects; 422 with a pointer per fault."""
    allowed = {(EvaluationSubject.session, ts.id)} | {
        (kind, subject_id) for kind, subject_id, _label in await session_subjects(db_session, ts)
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
    (docs/evaluation.md). Runs in a transaction that sets no actor and leaves no trail.

    Under the answers' lock (which close() and attach() take too), the window and the form are
    read again: closed since the claim (by the organiser, or at local midnight), the answer is
    refused (409 evaluation.not_open); another form attached, 409 evaluation.form_changed. The
    caller then removes the marker."""
    await repository.quiet_statement_log(db_session)
    await repository.serialise_answers(db_session, claim_.training_session_id)
    evaluation = await repository.get_session_evaluation(db_session, claim_.training_session_id)
    ts = await session_repository.get(db_session, claim_.training_session_id)
    if (
        evaluation is None
        or ts is None
        or window_of(evaluation, ts, local_today()).status != EvaluationStatus.open
    ):
        raise EvaluationNotOpen()
    if evaluation.form_id != claim_.form_id:
        raise FormChanged()
    await repository.insert_answers(db_session, claim_.answers, claim_.comments)
    await repository.reshuffle(db_session, claim_.training_session_id)


async def unclaim(db_session: AsyncSession, marker_id: uuid.UUID) -> None:
    """The answer was not written: remove the marker so that the trainee may answer again."""
    await repository.delete_marker(db_session, marker_id)
