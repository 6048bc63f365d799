import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.routing import APIRoute

from app.clock import local_today
from app.db import DbSession, ReadSession, Sessionmaker, end_early
from app.enums import EvaluationGroupBy
from app.errors import PreconditionFailed
from app.evaluation import answering, reports, service
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
    IdempotencyKeyRefused,
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
from app.evaluation.models import SessionEvaluation
from app.evaluation.schemas import (
    EvaluationAnswerCreate,
    EvaluationFormCreate,
    EvaluationFormPage,
    EvaluationFormRead,
    EvaluationFormRevisionCreate,
    EvaluationFormUpdate,
    EvaluationMe,
    EvaluationReportRead,
    EvaluationSubjectRead,
    IndicatorRead,
    SessionEvaluationCommentsRead,
    SessionEvaluationPut,
    SessionEvaluationRead,
    SessionEvaluationReportRead,
    TeacherReviewReportRead,
)
from app.evaluation.service import EvaluationView, FormView
from app.http import API_PREFIX, AppSettings, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.pagination import PageQuery
from app.security import CurrentActor
from app.training_session.errors import NotSessionOrganiser, TrainingSessionNotFound

router = APIRouter(prefix=API_PREFIX, tags=["evaluation"], route_class=IdempotentRoute)
# The answer takes no Idempotency-Key (docs/evaluation.md): a plain route, nothing is stored.
answer_router = APIRouter(prefix=API_PREFIX, tags=["evaluation"], route_class=APIRoute)


def form_read(view: FormView) -> EvaluationFormRead:
    form = view.form
    return EvaluationFormRead(
        id=form.id,
        org_unit_id=form.org_unit_id,
        name=form.name,
        lineage_id=form.lineage_id,
        revision=form.revision,
        allow_comments=form.allow_comments,
        active=form.active,
        indicators=[IndicatorRead.model_validate(i) for i in view.indicators],
        version=form.version,
        created_at=form.created_at,
        updated_at=form.updated_at,
    )


def evaluation_read(view: EvaluationView) -> SessionEvaluationRead:
    evaluation: SessionEvaluation = view.evaluation
    return SessionEvaluationRead(
        training_session_id=evaluation.training_session_id,
        form=form_read(view.form),
        status=view.window.status,
        opened_early=view.opened_early,
        opens_on=view.window.opens_on,
        closes_on=view.window.closes_on,
        open_days=evaluation.open_days,
        closed_early=evaluation.closed,
        subjects=[
            EvaluationSubjectRead(subject=s, subject_id=i, label=label)
            for s, i, label in view.subjects
        ],
        answered_count=view.answered_count,
        eligible_count=view.eligible_count,
        me=None
        if view.me is None
        else EvaluationMe(may_answer=view.me[0], has_answered=view.me[1]),
        version=evaluation.version,
    )


# --- forms --------------------------------------------------------------------------------------


@router.post(
    "/evaluation-forms",
    operation_id="createEvaluationForm",
    status_code=status.HTTP_201_CREATED,
    responses=problems(ReferencedOrgUnitNotFound, NotFormManager, InvalidIndicators),
)
async def create_evaluation_form(
    body: EvaluationFormCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> EvaluationFormRead:
    """Create an evaluation form (revision 1) owned by a unit: an org_admin for its subtree's
    units, an admin for any. Each indicator is rated 1–5 and weighted; positions follow the
    list order within each subject (`Idempotency-Key` accepted)."""
    form = await service.create_form(db_session, body, actor)
    set_etag(response, form.version)
    response.headers["Location"] = f"{API_PREFIX}/evaluation-forms/{form.id}"
    return form_read(await service.form_view(db_session, form))


@router.get(
    "/evaluation-forms", operation_id="listEvaluationForms", responses=problems(OrgUnitNotFound)
)
async def list_evaluation_forms(
    db_session: DbSession,
    actor: CurrentActor,
    page: PageQuery,
    org_unit_id: Annotated[
        uuid.UUID | None, Query(description="Forms of this unit or its subtree")
    ] = None,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive")] = None,
    all_revisions: Annotated[
        bool, Query(description="Every revision, not only the latest of each form")
    ] = False,
) -> EvaluationFormPage:
    """Evaluation forms the caller may see: every unit's for admin, hr_system and auditor; an
    org_admin its subtree's and its ancestors' (those its sessions may use). The latest revision
    of each form unless `all_revisions`."""
    views, cursor = await service.list_forms(
        db_session,
        actor,
        page,
        org_unit_id=org_unit_id,
        active=active,
        all_revisions=all_revisions,
    )
    return EvaluationFormPage(items=[form_read(v) for v in views], next_cursor=cursor)


@router.get(
    "/evaluation-forms/{evaluation_form_id}",
    operation_id="getEvaluationForm",
    responses=problems(EvaluationFormNotFound),
)
async def get_evaluation_form(
    evaluation_form_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> EvaluationFormRead:
    """One revision of a form with its indicators, and its `ETag`."""
    form = await service.get_form(db_session, evaluation_form_id, actor)
    set_etag(response, form.version)
    return form_read(await service.form_view(db_session, form))


@router.post(
    "/evaluation-forms/{evaluation_form_id}/revisions",
    operation_id="createEvaluationFormRevision",
    status_code=status.HTTP_201_CREATED,
    responses=problems(EvaluationFormNotFound, NotFormManager, InvalidIndicators),
)
async def create_evaluation_form_revision(
    evaluation_form_id: uuid.UUID,
    body: EvaluationFormRevisionCreate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
) -> EvaluationFormRead:
    """Edit a form: its next revision (the path may name any revision of it). Revisions never
    change once created, so sessions and answers keep the revision they used; new sessions can
    attach only the latest."""
    form = await service.get_form(db_session, evaluation_form_id, actor)
    revision = await service.revise_form(db_session, form, body, actor)
    set_etag(response, revision.version)
    response.headers["Location"] = f"{API_PREFIX}/evaluation-forms/{revision.id}"
    return form_read(await service.form_view(db_session, revision))


@router.patch(
    "/evaluation-forms/{evaluation_form_id}",
    operation_id="updateEvaluationForm",
    responses=problems(EvaluationFormNotFound, NotFormManager, PreconditionFailed),
)
async def update_evaluation_form(
    evaluation_form_id: uuid.UUID,
    body: EvaluationFormUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> EvaluationFormRead:
    """Deactivate (or reactivate) a form revision (`If-Match`: its ETag): an inactive form is
    attached to no new session. Nothing else of a revision changes."""
    form = await service.get_form(db_session, evaluation_form_id, actor, for_update=True)
    check_if_match(if_match, form.version)
    form = await service.update_form(db_session, form, body, actor)
    set_etag(response, form.version)
    return form_read(await service.form_view(db_session, form))


# --- a session's evaluation ---------------------------------------------------------------------


@router.put(
    "/training-sessions/{training_session_id}/evaluation",
    operation_id="attachSessionEvaluation",
    responses=problems(
        TrainingSessionNotFound,
        NotSessionOrganiser,
        ReferencedFormNotFound,
        OpensOnOutsideSession,
        OpensOnAfterClose,
        FormSuperseded,
        SessionCancelled,
        EvaluationClosed,
        EvaluationHasAnswers,
        PreconditionFailed,
    ),
)
async def attach_session_evaluation(
    training_session_id: uuid.UUID,
    body: SessionEvaluationPut,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    response: Response,
    if_match: IfMatch = None,
) -> SessionEvaluationRead:
    """Attach an evaluation form to the session (its organisers: an org_admin of the organising
    unit's tree, or an admin): the latest revision of an active form of the organiser's unit, a
    unit above or below it. It opens the day the session closes, or on `opens_on` (a day of the
    session), and stays open `APP_EVALUATION__OPEN_DAYS` days (docs/rules.md rule 14). Another
    form only while nobody has answered (409 `evaluation.has_answers`)."""
    evaluation = await service.attach(
        db_session,
        training_session_id,
        body,
        actor,
        open_days=settings.evaluation.open_days,
        if_match=if_match,
    )
    set_etag(response, evaluation.version)
    return evaluation_read(await service.read(db_session, training_session_id, actor))


@router.post(
    "/training-sessions/{training_session_id}/evaluation/close",
    operation_id="closeSessionEvaluation",
    responses=problems(
        TrainingSessionNotFound, NotSessionOrganiser, EvaluationNotFound, EvaluationClosed
    ),
)
async def close_session_evaluation(
    training_session_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> SessionEvaluationRead:
    """Close the evaluation before its last day (the session's organisers). Its figures can be
    reported once it is closed."""
    evaluation = await service.close(db_session, training_session_id, actor)
    set_etag(response, evaluation.version)
    return evaluation_read(await service.read(db_session, training_session_id, actor))


@router.get(
    "/training-sessions/{training_session_id}/evaluation",
    operation_id="getSessionEvaluation",
    responses=problems(TrainingSessionNotFound, EvaluationNotFound),
)
async def get_session_evaluation(
    training_session_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> SessionEvaluationRead:
    """The session's evaluation: its form, its window and status, what may be rated, how many
    have answered, and for a cadre whether it may answer (`me`). Readable by whoever reads the
    session, and by its trainees. No figures here: see the report."""
    view = await service.read(db_session, training_session_id, actor)
    set_etag(response, view.evaluation.version)
    return evaluation_read(view)


@answer_router.post(
    "/training-sessions/{training_session_id}/evaluation/answers",
    operation_id="answerSessionEvaluation",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra={"x-no-idempotency-key": True},
    responses=problems(
        TrainingSessionNotFound,
        EvaluationNotFound,
        NotTrainee,
        EvaluationNotOpen,
        NotEligible,
        AlreadyAnswered,
        InvalidAnswer,
        CommentsNotAllowed,
        IdempotencyKeyRefused,
        FormChanged,
    ),
)
async def answer_session_evaluation(
    training_session_id: uuid.UUID,
    body: EvaluationAnswerCreate,
    request: Request,
    sessionmaker: Sessionmaker,
    db_session: DbSession,
    actor: CurrentActor,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            include_in_schema=False,
        ),
    ] = None,
) -> None:
    """Answer the evaluation, anonymously (a cadre, once per enrollment: completed, or enrolled
    or confirmed while an evaluation opened early runs): exactly one rating of the session, and
    any of its courses and teachers, each with a 1–5 score per indicator in position order;
    comments only if the form takes them. The answer is stored with no trace of who gave it or
    when (docs/evaluation.md); a second answer is 409 `evaluation.already_answered`. Closed
    while the answer was written (by the organiser, or at midnight) it is 409
    `evaluation.not_open`, and another form attached meanwhile 409 `evaluation.form_changed`:
    nothing is kept and the trainee may answer again where the window allows. Takes no
    `Idempotency-Key` (422 `evaluation.idempotency_key_refused`): a kept copy of the request
    would tie it to the caller, and the 409 already makes a retry safe."""
    if idempotency_key is not None:
        raise IdempotencyKeyRefused()
    # The answer runs transactions of its own: the request's ends first (docs/scaling.md).
    await end_early(db_session)
    await answering.answer(
        sessionmaker,
        training_session_id,
        body,
        actor,
        request_id=getattr(request.state, "request_id", None),
        client_request_id=getattr(request.state, "client_request_id", None),
    )


# ---------------------------------------------------------------------------------------------
# Reports (docs/rules.md rule 14, the figures; docs/evaluation.md "Reports").


@router.get(
    "/training-sessions/{training_session_id}/evaluation/report",
    operation_id="getSessionEvaluationReport",
    responses=problems(TrainingSessionNotFound, EvaluationNotFound),
)
async def get_session_evaluation_report(
    training_session_id: uuid.UUID,
    db_session: ReadSession,
    actor: CurrentActor,
    settings: AppSettings,
) -> SessionEvaluationReportRead:
    """The session's evaluation figures (docs/rules.md rule 14): one group for the session, one
    per course and one per teacher, each with its answer count. `figures` is null while the
    evaluation is not closed (`withheld: not_closed`; then only the session's group has a
    count, each course's and teacher's `answers` is null), and for a group of fewer than
    APP_EVALUATION__MIN_ANSWERS answers (`too_few_answers`). The organisers (org_admins of the
    organiser's subtree), admins and auditors; 404 otherwise."""
    return await reports.session_report(
        db_session, actor, settings.evaluation, training_session_id, local_today()
    )


@router.get(
    "/training-sessions/{training_session_id}/evaluation/comments",
    operation_id="listSessionEvaluationComments",
    responses=problems(TrainingSessionNotFound, EvaluationNotFound),
)
async def list_session_evaluation_comments(
    training_session_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
) -> SessionEvaluationCommentsRead:
    """The trainees' free-text comments by subject, each subject's sorted by text, with no
    figures beside them. Shown only where the figures would be: once the evaluation is closed
    and for a subject rated by at least APP_EVALUATION__MIN_ANSWERS answers (otherwise
    `withheld` says why). The organisers and admins only (docs/rules.md rule 14)."""
    return await reports.session_comments(
        db_session, actor, settings.evaluation, training_session_id, local_today()
    )


report_router = APIRouter(prefix=f"{API_PREFIX}/reports", tags=["reports"])


@report_router.get(
    "/evaluations",
    operation_id="getEvaluationReport",
    responses=problems(OrgUnitNotFound),
)
async def get_evaluation_report(
    db_session: ReadSession,
    actor: CurrentActor,
    settings: AppSettings,
    group_by: Annotated[
        EvaluationGroupBy,
        Query(
            description="session, course, teacher, provider (the session's) or year (the "
            "year the session ended)"
        ),
    ] = EvaluationGroupBy.session,
    year: Annotated[
        int | None, Query(ge=1900, le=2199, description="Sessions that ended in this year")
    ] = None,
    org_unit_id: Annotated[
        uuid.UUID | None, Query(description="Sessions organised in this unit's subtree")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Groups at most")] = 500,
) -> EvaluationReportRead:
    """Evaluation figures grouped (docs/rules.md rule 14), over the closed evaluations of the
    sessions organised in the caller's subtree (org_admin) or of all sessions (admin, auditor).
    Course and teacher groups read the answers rating that course or teacher; session, provider
    and year groups the answers rating the session. A group of fewer than
    APP_EVALUATION__MIN_ANSWERS answers shows no figures."""
    return await reports.evaluation_report(
        db_session,
        actor,
        settings.evaluation,
        group_by=group_by,
        year=year,
        org_unit_id=org_unit_id,
        limit=limit,
        today=local_today(),
    )


@report_router.get(
    "/teacher-reviews",
    operation_id="getTeacherReviewReport",
    responses=problems(OrgUnitNotFound),
)
async def get_teacher_review_report(
    db_session: ReadSession,
    actor: CurrentActor,
    settings: AppSettings,
    org_unit_id: Annotated[
        uuid.UUID | None, Query(description="Sessions organised in this unit's subtree")
    ] = None,
) -> TeacherReviewReportRead:
    """Teachers flagged for review (师资退出, docs/rules.md rule 14): their weighted score was
    below APP_EVALUATION__REVIEW_BELOW in each of their latest APP_EVALUATION__REVIEW_SESSIONS
    sessions with figures (closed evaluations, at least APP_EVALUATION__MIN_ANSWERS answers
    rating the teacher), in end-date order; sessions without figures are skipped. Over the
    sessions the caller may report on, as `GET /reports/evaluations`."""
    return await reports.teacher_reviews(
        db_session, actor, settings.evaluation, org_unit_id=org_unit_id, today=local_today()
    )
