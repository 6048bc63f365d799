import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.db import DbSession, ReadSession
from app.enums import OrgUnitKind
from app.errors import PreconditionFailed
from app.http import API_PREFIX, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.org_unit import service
from app.org_unit.errors import (
    OrgUnitCodeTaken,
    OrgUnitCycle,
    OrgUnitNotFound,
    OwnUnitImmovable,
    ParentNotFound,
    RootNotAllowed,
)
from app.org_unit.schemas import (
    OrgUnitCreate,
    OrgUnitFilter,
    OrgUnitPage,
    OrgUnitRead,
    OrgUnitUpdate,
)
from app.pagination import PageQuery
from app.query_alias import resolve_alias
from app.schema_types import Code, SearchText
from app.security import CurrentActor

router = APIRouter(
    prefix=f"{API_PREFIX}/org-units", tags=["org units"], route_class=IdempotentRoute
)


@router.get(
    "",
    operation_id="listOrgUnits",
    responses=problems(OrgUnitNotFound),
)
async def list_org_units(
    db_session: ReadSession,
    actor: CurrentActor,
    page: PageQuery,
    parent_id: Annotated[
        uuid.UUID | None, Query(description="Direct children of this unit")
    ] = None,
    org_unit_id: Annotated[
        uuid.UUID | None, Query(description="This unit and its whole subtree")
    ] = None,
    within: Annotated[
        uuid.UUID | None,
        Query(deprecated=True, description="Deprecated alias of `org_unit_id`"),
    ] = None,
    kind: OrgUnitKind | None = None,
    code: Annotated[Code | None, Query()] = None,
    active: bool | None = None,
    q: Annotated[SearchText | None, Query(description="Part of the name")] = None,
) -> OrgUnitPage:
    """Org units, in creation order, optionally restricted to a subtree."""
    where = OrgUnitFilter(
        parent_id=parent_id,
        within=resolve_alias("org_unit_id", org_unit_id, "within", within),
        kind=kind,
        code=code,
        active=active,
        q=q,
    )
    return await service.list_org_units(db_session, actor, where, page)


@router.post(
    "",
    operation_id="createOrgUnit",
    status_code=status.HTTP_201_CREATED,
    responses=problems(OrgUnitCodeTaken, ParentNotFound, RootNotAllowed),
)
async def create_org_unit(
    body: OrgUnitCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> OrgUnitRead:
    """Create an org unit under `parent_id` (or, for whole-tree roles, a new root)."""
    unit = await service.create_org_unit(db_session, body, actor)
    set_etag(response, unit.version)
    response.headers["Location"] = f"/api/v1/org-units/{unit.id}"
    return OrgUnitRead.model_validate(unit)


@router.get("/{org_unit_id}", operation_id="getOrgUnit", responses=problems(OrgUnitNotFound))
async def get_org_unit(
    org_unit_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> OrgUnitRead:
    """One org unit of the caller's scope, with its `ETag` for `If-Match`; a unit outside the scope
    answers 404."""
    unit = await service.get_org_unit(db_session, org_unit_id, actor)
    set_etag(response, unit.version)
    return OrgUnitRead.model_validate(unit)


@router.patch(
    "/{org_unit_id}",
    operation_id="updateOrgUnit",
    responses=problems(
        OrgUnitNotFound,
        OrgUnitCodeTaken,
        OrgUnitCycle,
        ParentNotFound,
        PreconditionFailed,
        RootNotAllowed,
        OwnUnitImmovable,
    ),
)
async def update_org_unit(
    org_unit_id: uuid.UUID,
    body: OrgUnitUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> OrgUnitRead:
    """Rename, recode, deactivate or move a unit; moving carries its whole subtree along."""
    unit = await service.get_org_unit(db_session, org_unit_id, actor)
    check_if_match(if_match, unit.version)
    unit = await service.update_org_unit(db_session, unit, body, actor)
    set_etag(response, unit.version)
    return OrgUnitRead.model_validate(unit)
