import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from app.cadre.errors import ReferencedCadreNotFound
from app.db import DbSession, ReadSession
from app.enums import StudyLogKind, StudyLogStatus
from app.errors import FieldNotAllowed, PreconditionFailed
from app.http import API_PREFIX, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.org_unit.errors import OrgUnitNotFound
from app.pagination import PageQuery
from app.security import CurrentActor
from app.study_log import service
from app.study_log.errors import (
    IdempotencyConflict,
    InvalidReviewTransition,
    StudyLogEndsInFuture,
    StudyLogNotFound,
)
from app.study_log.schemas import ReviewAction, StudyLogCreate, StudyLogPage, StudyLogRead

router = APIRouter(
    prefix=f"{API_PREFIX}/study-logs", tags=["study logs"], route_class=IdempotentRoute
)


@router.get("", operation_id="listStudyLogs", responses=problems(OrgUnitNotFound))
async def list_study_logs(
    db_session: ReadSession,
    actor: CurrentActor,
    page: PageQuery,
    cadre_id: uuid.UUID | None = None,
    org_unit_id: Annotated[
        uuid.UUID | None, Query(description="Logs of cadres in this unit and its subtree")
    ] = None,
    kind: StudyLogKind | None = None,
    status: StudyLogStatus | None = None,
    year: Annotated[
        int | None, Query(ge=1900, le=2199, description="Logs overlapping this calendar year")
    ] = None,
) -> StudyLogPage:
    """The study logs the caller may see, a page at a time (`next_cursor`), filtered by cadre, org
    subtree, kind, status and year."""
    items, next_cursor = await service.list_study_logs(
        db_session,
        actor,
        page,
        cadre_id=cadre_id,
        org_unit_id=org_unit_id,
        kind=kind,
        status=status,
        year=year,
    )
    return StudyLogPage(
        items=[StudyLogRead.model_validate(s) for s in items], next_cursor=next_cursor
    )


@router.post(
    "",
    operation_id="createStudyLog",
    status_code=status.HTTP_201_CREATED,
    responses=problems(ReferencedCadreNotFound, FieldNotAllowed, StudyLogEndsInFuture),
)
async def create_study_log(
    body: StudyLogCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> StudyLogRead:
    """Record a learning activity. It counts once `approved` (docs/rules.md rule 1). A cadre records
    its own, which start `pending`. A log ends today at the latest, in the local date of
    Asia/Shanghai (docs/rules.md rule 10: 422 `study_log.ends_in_future`)."""
    log = await service.create_study_log(db_session, body, actor)
    set_etag(response, log.version)
    response.headers["Location"] = f"/api/v1/study-logs/{log.id}"
    return StudyLogRead.model_validate(log)


@router.get("/{study_log_id}", operation_id="getStudyLog", responses=problems(StudyLogNotFound))
async def get_study_log(
    study_log_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> StudyLogRead:
    """One study log the caller may see, with its `ETag` for `If-Match`; 404 otherwise."""
    log = await service.get_study_log(db_session, study_log_id, actor)
    set_etag(response, log.version)
    return StudyLogRead.model_validate(log)


@router.put(
    "/{study_log_id}",
    operation_id="putStudyLog",
    responses={
        201: {"model": StudyLogRead, "description": "Created"},
        **problems(
            ReferencedCadreNotFound,
            IdempotencyConflict,
            FieldNotAllowed,
            StudyLogNotFound,
            StudyLogEndsInFuture,
        ),
    },
)
async def put_study_log(
    study_log_id: uuid.UUID,
    body: StudyLogCreate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
) -> StudyLogRead:
    """Create a study log under an id the client chose, safe to retry: the same body again answers
    200 with the stored log; a different body under the same id answers 409. As for POST, a log
    ends today at the latest (docs/rules.md rule 10: 422 `study_log.ends_in_future`).

    Scope before uniqueness: an id taken by a log outside the caller's subtree answers 404
    `study_log.not_found`, as every out-of-scope id does, whatever the body; then a cadre outside
    the caller's subtree answers 422 `cadre.reference_not_found`; only then is the body
    compared with a stored log's (409). That an id is taken at all cannot be hidden from a PUT
    that would otherwise create: ids are the client's random UUIDs, so there is nothing to
    enumerate."""
    log, created = await service.put_study_log(db_session, study_log_id, body, actor)
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/api/v1/study-logs/{log.id}"
    set_etag(response, log.version)
    return StudyLogRead.model_validate(log)


def _review_route(target: StudyLogStatus, verb: str, operation_id: str, doc: str) -> None:
    @router.post(
        f"/{{study_log_id}}/{verb}",
        operation_id=operation_id,
        responses=problems(StudyLogNotFound, InvalidReviewTransition, PreconditionFailed),
        summary=f"{verb.capitalize()} Study Log",
        description=doc,
    )
    async def review(
        study_log_id: uuid.UUID,
        db_session: DbSession,
        actor: CurrentActor,
        response: Response,
        body: Annotated[ReviewAction | None, Body()] = None,
        if_match: IfMatch = None,
    ) -> StudyLogRead:
        log = await service.get_study_log(db_session, study_log_id, actor)
        check_if_match(if_match, log.version)
        log = await service.review(db_session, log, target, body)
        set_etag(response, log.version)
        return StudyLogRead.model_validate(log)

    review.__name__ = operation_id


_review_route(
    StudyLogStatus.approved,
    "approve",
    "approveStudyLog",
    "Approve a pending log: from now on it counts. Approving an approved log changes nothing.",
)
_review_route(
    StudyLogStatus.rejected,
    "reject",
    "rejectStudyLog",
    "Reject a pending log, with the reason in `comment`.",
)
_review_route(
    StudyLogStatus.voided,
    "void",
    "voidStudyLog",
    "Void a pending or approved log (recorded in error): it stops counting at once. A "
    "certificate (结业证书) issued with the log is revoked: its public check shows `revoked`.",
)
