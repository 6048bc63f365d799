import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.assessment import service
from app.assessment.errors import (
    AssessmentExists,
    AssessmentNotFound,
    OverrideForbidden,
    OverrideNotNeeded,
    TrainingRequirementUnmet,
)
from app.assessment.schemas import (
    AssessmentCreate,
    AssessmentPage,
    AssessmentRead,
    AssessmentUpdate,
)
from app.cadre.errors import ReferencedCadreNotFound
from app.credit_policy.errors import NoPolicyForDate
from app.db import DbSession, ReadSession
from app.enums import AssessmentRating
from app.errors import PreconditionFailed
from app.http import API_PREFIX, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.org_unit.errors import OrgUnitNotFound
from app.pagination import PageQuery
from app.security import CurrentActor

router = APIRouter(
    prefix=f"{API_PREFIX}/assessments", tags=["assessments"], route_class=IdempotentRoute
)


@router.get("", operation_id="listAssessments", responses=problems(OrgUnitNotFound))
async def list_assessments(
    db_session: ReadSession,
    actor: CurrentActor,
    page: PageQuery,
    cadre_id: uuid.UUID | None = None,
    org_unit_id: Annotated[
        uuid.UUID | None, Query(description="Assessments of cadres in this unit's subtree")
    ] = None,
    year: Annotated[int | None, Query(ge=1900, le=2199)] = None,
    rating: AssessmentRating | None = None,
) -> AssessmentPage:
    """The assessments the caller may see, a page at a time (`next_cursor`), filtered by cadre, org
    subtree, year and rating."""
    items, next_cursor = await service.list_assessments(
        db_session,
        actor,
        page,
        cadre_id=cadre_id,
        org_unit_id=org_unit_id,
        year=year,
        rating=rating,
    )
    return AssessmentPage(
        items=[AssessmentRead.model_validate(a) for a in items], next_cursor=next_cursor
    )


@router.post(
    "",
    operation_id="createAssessment",
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        ReferencedCadreNotFound,
        AssessmentExists,
        TrainingRequirementUnmet,
        OverrideForbidden,
        OverrideNotNeeded,
        NoPolicyForDate,
    ),
)
async def create_assessment(
    body: AssessmentCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> AssessmentRead:
    """Record a cadre's annual assessment (年度考核), per `docs/rules.md` rule 9. The training
    figures at the end of `year` are frozen with it as `training_snapshot`.

    `excellent` needs the cadre's requirement for that year met at year end (the annual rule
    for other ranks, the five-year rule met or in grace for leading ranks). When it is not met:
    - an `admin` may still record it with an `override_reason`, kept in the assessment and in
      its snapshot, and audited; without a reason the answer is 409
      `assessment.training_requirement_unmet`;
    - any other role gets 403 `assessment.override_forbidden`, with or without a reason.

    An `override_reason` where nothing is overridden (another rating, or the requirement is
    met) is refused with 422 `assessment.override_not_needed`: a stored reason always means
    the training condition was overridden."""
    assessment = await service.create_assessment(db_session, body, actor)
    set_etag(response, assessment.version)
    response.headers["Location"] = f"/api/v1/assessments/{assessment.id}"
    return AssessmentRead.model_validate(assessment)


@router.get(
    "/{assessment_id}", operation_id="getAssessment", responses=problems(AssessmentNotFound)
)
async def get_assessment(
    assessment_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> AssessmentRead:
    """One assessment the caller may see, with its `ETag` for `If-Match`; 404 otherwise."""
    assessment = await service.get_assessment(db_session, assessment_id, actor)
    set_etag(response, assessment.version)
    return AssessmentRead.model_validate(assessment)


@router.patch(
    "/{assessment_id}",
    operation_id="updateAssessment",
    responses=problems(
        AssessmentNotFound,
        PreconditionFailed,
        TrainingRequirementUnmet,
        OverrideForbidden,
        OverrideNotNeeded,
        NoPolicyForDate,
    ),
)
async def update_assessment(
    assessment_id: uuid.UUID,
    body: AssessmentUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> AssessmentRead:
    """Change a rating or comment (`docs/rules.md` rule 9). A new rating, or a new
    `override_reason`, is a new decision: the snapshot is frozen again on the figures of the
    day, under the same conditions as on create (an unmet `excellent` needs an admin and a
    reason: 403 `assessment.override_forbidden` for other roles, 409
    `assessment.training_requirement_unmet` without a reason; a reason where nothing is
    overridden: 422 `assessment.override_not_needed`). A new rating sent without a reason drops
    the previous reason. A comment alone changes nothing else."""
    assessment = await service.get_assessment(db_session, assessment_id, actor)
    check_if_match(if_match, assessment.version)
    assessment = await service.update_assessment(db_session, assessment, body, actor)
    set_etag(response, assessment.version)
    return AssessmentRead.model_validate(assessment)
