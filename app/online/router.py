import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.auth.rate_limit import RateLimited
from app.cadre.lookups import IdNumberLookupLimit
from app.credit_policy.errors import NoPolicyForDate
from app.db import DbSession
from app.errors import PreconditionFailed
from app.http import API_PREFIX, IfMatch, check_if_match, problems, set_etag
from app.i18n import N_
from app.idempotency.route import IdempotentRoute
from app.imports import service as imports
from app.imports.errors import TooManyRows, UnsupportedMediaType
from app.online import rules, service
from app.online.errors import (
    LearnerMatchedByIdNumber,
    NotLearnerManager,
    PlatformCodeTaken,
    PlatformInactive,
    PlatformNotFound,
    ReferencedCadreNotFound,
)
from app.online.schemas import (
    OnlineImportReport,
    OnlineLearnerPut,
    OnlineLearnerRead,
    OnlinePlatformCreate,
    OnlinePlatformPage,
    OnlinePlatformRead,
    OnlinePlatformUpdate,
)
from app.pagination import PageQuery
from app.schema_types import Code
from app.security import CurrentActor

router = APIRouter(
    prefix=f"{API_PREFIX}/online-platforms",
    tags=["online academies"],
    route_class=IdempotentRoute,
)
import_router = APIRouter(
    prefix=f"{API_PREFIX}/imports", tags=["imports"], route_class=IdempotentRoute
)


@router.get("", operation_id="listOnlinePlatforms", responses=problems())
async def list_platforms(
    db_session: DbSession,
    page: PageQuery,
    active: Annotated[bool | None, Query(description="Only active (true) or deactivated")] = None,
) -> OnlinePlatformPage:
    """The online academies (干部网络学院) whose records are imported, with their conversion
    tables (docs/rules.md, "Online academies")."""
    items, next_cursor = await service.list_platforms(db_session, page, active=active)
    return OnlinePlatformPage(
        items=[OnlinePlatformRead.model_validate(p) for p in items], next_cursor=next_cursor
    )


@router.post(
    "",
    operation_id="createOnlinePlatform",
    status_code=status.HTTP_201_CREATED,
    responses=problems(PlatformCodeTaken),
)
async def create_platform(
    body: OnlinePlatformCreate, db_session: DbSession, response: Response
) -> OnlinePlatformRead:
    """Add an online platform and its conversion table (`Idempotency-Key` accepted); its `code`
    is unique (409 `online.platform_code_taken`)."""
    platform = await service.create_platform(db_session, body)
    set_etag(response, platform.version)
    response.headers["Location"] = f"{API_PREFIX}/online-platforms/{platform.id}"
    return OnlinePlatformRead.model_validate(platform)


@router.get(
    "/{online_platform_id}",
    operation_id="getOnlinePlatform",
    responses=problems(PlatformNotFound),
)
async def get_platform(
    online_platform_id: uuid.UUID, db_session: DbSession, response: Response
) -> OnlinePlatformRead:
    """One platform and its `ETag`."""
    platform = await service.get_platform(db_session, online_platform_id)
    set_etag(response, platform.version)
    return OnlinePlatformRead.model_validate(platform)


@router.patch(
    "/{online_platform_id}",
    operation_id="updateOnlinePlatform",
    responses=problems(PlatformNotFound, PreconditionFailed),
)
async def update_platform(
    online_platform_id: uuid.UUID,
    body: OnlinePlatformUpdate,
    db_session: DbSession,
    response: Response,
    if_match: IfMatch = None,
) -> OnlinePlatformRead:
    """Change a platform (`If-Match`: its ETag). A new conversion applies to records imported
    from then on; logs imported before keep their hours. `active: false` refuses its imports
    (409 `online.platform_inactive`); platforms are never deleted."""
    platform = await service.get_platform(db_session, online_platform_id, for_update=True)
    check_if_match(if_match, platform.version)
    platform = await service.update_platform(db_session, platform, body)
    set_etag(response, platform.version)
    return OnlinePlatformRead.model_validate(platform)


@router.put(
    "/{online_platform_id}/learners/{learner_id}",
    operation_id="putOnlineLearner",
    responses=problems(
        PlatformNotFound, ReferencedCadreNotFound, NotLearnerManager, LearnerMatchedByIdNumber
    ),
)
async def put_learner(
    online_platform_id: uuid.UUID,
    learner_id: Annotated[Code, Path(description="The learner's account on the platform")],
    body: OnlineLearnerPut,
    db_session: DbSession,
    actor: CurrentActor,
) -> OnlineLearnerRead:
    """Match a platform's learner account to a cadre: an org_admin for the cadres of its
    subtree (an account matched to a cadre outside it stays as it is: 403
    `online.not_learner_manager`), an admin for any. An org_admin may not re-point an account
    an import matched by ID number (409 `online.learner_matched_by_id_number`); an ID-number
    match overrides an org_admin's mapping. Imports then match the account's rows by
    `learner_id`. Idempotent: the same body again changes nothing."""
    learner = await service.put_learner(
        db_session, online_platform_id, learner_id, body.cadre_id, actor
    )
    return OnlineLearnerRead.model_validate(learner)


_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/OnlineRecordImport"}},
        "text/csv": {
            "schema": {
                "type": "string",
                "maxLength": 64 * 1024 * 1024,
                "description": "UTF-8 (a BOM is fine), a header row with the field names of "
                "OnlineRecordImportRow; a record (a line, or the lines of a quoted cell) of at "
                "most 64 KiB",
            }
        },
    },
}


@import_router.post(
    "/online-records",
    operation_id="importOnlineRecords",
    responses=problems(
        UnsupportedMediaType,
        TooManyRows,
        PlatformNotFound,
        PlatformInactive,
        RateLimited,
        NoPolicyForDate,
    ),
    openapi_extra={"requestBody": _BODY},
)
async def import_online_records(
    request: Request,
    db_session: DbSession,
    actor: CurrentActor,
    lookups: IdNumberLookupLimit,
    platform: Annotated[Code, Query(description="The platform's code")],
    dry_run: Annotated[bool, Query(description="Check and count; keep nothing")] = False,
) -> OnlineImportReport:
    """A platform's own records (JSON `{"items": [...]}` or CSV), as the study-log import takes
    them (docs/rules.md, "Online academies"). Each row is matched to a cadre by its
    `learner_id` (an account the platform knows), or by `id_number` (admin and hr_system only,
    one lookup a request against `APP_RATE_LIMIT__ID_NUMBER_LOOKUPS_PER_HOUR`; an org_admin's
    row with one is a row error), which teaches the platform the account; an org_admin imports
    for the cadres of its subtree only. Each good row becomes an `online_course` study log of
    the platform's converted 学时, `approved`, or `pending` with the reasons when a
    plausibility check flags it, and its record is kept as the log's source. Every row is
    checked on its own (the report lists the rejected ones with a pointer and a code); a
    record imported before (same platform and `external_id`) creates nothing. A body may be
    64 MB and hold 50,000 rows."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    rows, csv_lines = await asyncio.to_thread(
        imports.read_rows,
        media,
        await request.body(),
        rules.REQUIRED_COLUMNS,
        N_("The CSV's header row must name the online-record fields."),
    )
    result = await service.import_online_records(
        db_session, platform, rows, actor, lookups, dry_run=dry_run, csv_lines=csv_lines
    )
    return OnlineImportReport.model_validate(result, from_attributes=True)
