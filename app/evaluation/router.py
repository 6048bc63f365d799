import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.clock import local_today
from app.db import DbSession
from app.enums import EvaluationGroupBy
from app.evaluation import service
from app.evaluation.errors import EvaluationNotAttached
from app.evaluation.schemas import (
    EvaluationReportRead,
    SessionEvaluationCommentsRead,
    SessionEvaluationReportRead,
    TeacherReviewReportRead,
)
from app.http import API_PREFIX, AppSettings, problems
from app.org_unit.errors import OrgUnitNotFound
from app.security import CurrentActor
from app.training_session.errors import TrainingSessionNotFound

router = APIRouter(prefix=API_PREFIX, tags=["evaluation"])

# ---------------------------------------------------------------------------------------------
# Reports (docs/rules.md rule 14, the figures; docs/evaluation.md "Reports").


@router.get(
    "/training-sessions/{training_session_id}/evaluation/report",
    operation_id="getSessionEvaluationReport",
    responses=problems(TrainingSessionNotFound, EvaluationNotAttached),
)
async def get_session_evaluation_report(
    training_session_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
) -> SessionEvaluationReportRead:
    """The session's evaluation figures (docs/rules.md rule 14): one group for the session, one
    per course and one per teacher, each with its answer count. `figures` is null while the
    evaluation is not closed (`withheld: evaluation_open`), and for a group of fewer than
    APP_EVALUATION__MIN_ANSWERS answers (`too_few_answers`). The organisers (org_admins of the
    organiser's subtree), admins and auditors; 404 otherwise."""
    return await service.session_report(
        db_session, actor, settings.evaluation, training_session_id, local_today()
    )


@router.get(
    "/training-sessions/{training_session_id}/evaluation/comments",
    operation_id="listSessionEvaluationComments",
    responses=problems(TrainingSessionNotFound, EvaluationNotAttached),
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
    return await service.session_comments(
        db_session, actor, settings.evaluation, training_session_id, local_today()
    )


report_router = APIRouter(prefix=f"{API_PREFIX}/reports", tags=["reports"])


@report_router.get(
    "/evaluations",
    operation_id="getEvaluationReport",
    responses=problems(OrgUnitNotFound),
)
async def get_evaluation_report(
    db_session: DbSession,
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
    return await service.evaluation_report(
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
    db_session: DbSession,
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
    return await service.teacher_reviews(
        db_session, actor, settings.evaluation, org_unit_id=org_unit_id, today=local_today()
    )
