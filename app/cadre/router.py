"""The cadre API."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.auth.rate_limit import RateLimited
from app.cadre import service
from app.cadre.errors import (
    CadreNotFound,
    CadreNotRegistrable,
    CadreOrgUnitNotFound,
    HrIdTaken,
    IdNumberSearchForbidden,
    IdNumberTaken,
    PostTypeRequired,
)
from app.cadre.lookups import IdNumberLookupLimit
from app.cadre.schemas import (
    CadreCreate,
    CadreFilter,
    CadrePage,
    CadreRead,
    CadreUpdate,
    CadreUpsert,
    IdNumber,
)
from app.cadre.service import to_read
from app.db import DbSession, ReadSession
from app.enums import CadreStatus, Rank
from app.errors import PreconditionFailed, StaleWrite, UnprocessableEntity
from app.http import API_PREFIX, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.org_unit.errors import OrgUnitNotFound
from app.pagination import PageQuery
from app.schema_types import Code, SearchText
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}/cadres", tags=["cadres"], route_class=IdempotentRoute)


HrIdPath = Annotated[Code, Path(description="The HR system's key for the cadre")]


@router.get(
    "",
    operation_id="listCadres",
    responses=problems(OrgUnitNotFound, IdNumberSearchForbidden, RateLimited),
)
async def list_cadres(
    db_session: ReadSession,
    actor: CurrentActor,
    lookups: IdNumberLookupLimit,
    page: PageQuery,
    org_unit_id: Annotated[
        uuid.UUID | None, Query(description="Cadres of this unit and its whole subtree")
    ] = None,
    rank: Rank | None = None,
    status: CadreStatus | None = None,
    hr_id: Annotated[Code | None, Query()] = None,
    id_number: Annotated[
        IdNumber | None,
        Query(
            description="Exact resident ID number. Only for the roles that see numbers whole "
            "(admin, hr_system; others: 403 `cadre.id_number_search_forbidden`), and "
            "rate-limited per user (`APP_RATE_LIMIT__ID_NUMBER_LOOKUPS_PER_HOUR`, 429)"
        ),
    ] = None,
    q: Annotated[SearchText | None, Query(description="Start of the name")] = None,
) -> CadrePage:
    """Cadres in creation order. ID numbers are always masked in lists (`******************`:
    no character shown)."""
    where = CadreFilter(
        org_unit_id=org_unit_id, rank=rank, status=status, hr_id=hr_id, id_number=id_number, q=q
    )
    return await service.list_cadres(db_session, actor, where, page, lookups)


@router.post(
    "",
    operation_id="createCadre",
    status_code=status.HTTP_201_CREATED,
    responses=problems(HrIdTaken, IdNumberTaken, CadreNotRegistrable, CadreOrgUnitNotFound),
)
async def create_cadre(
    body: CadreCreate,
    db_session: DbSession,
    actor: CurrentActor,
    lookups: IdNumberLookupLimit,
    response: Response,
) -> CadreRead:
    """Register a cadre. ID numbers come back whole to admin and hr_system, masked to org_admin.
    For a role that sees numbers masked, a write naming a number new to the record counts against
    the per-user limit on lookups by ID number (429 past it): a 409 tells whether a number is
    held.

    Scope before uniqueness: the org unit is checked first (one outside the caller's subtree
    answers 422 `cadre.org_unit_not_found`). A clash with a cadre the caller can see names the
    field (`cadre.hr_id_taken`, `cadre.id_number_taken`); a clash with one outside the caller's
    subtree answers `cadre.not_registrable` for either field, naming neither field nor cadre
    (an administrator can move a cadre between units)."""
    cadre = await service.create_cadre(db_session, body, actor, lookups)
    set_etag(response, cadre.version)
    response.headers["Location"] = f"{API_PREFIX}/cadres/{cadre.id}"
    return to_read(cadre, actor)


@router.get("/by-hr-id/{hr_id}", operation_id="getCadreByHrId", responses=problems(CadreNotFound))
async def get_cadre_by_hr_id(
    hr_id: HrIdPath, db_session: DbSession, actor: CurrentActor, response: Response
) -> CadreRead:
    """The cadre the HR system knows by `hr_id`, answered as `getCadre` answers it (with its
    `ETag`); 404 outside the caller's scope."""
    cadre = await service.get_cadre_by_hr_id(db_session, hr_id, actor)
    set_etag(response, cadre.version)
    return to_read(cadre, actor)


@router.put(
    "/by-hr-id/{hr_id}",
    operation_id="upsertCadreByHrId",
    responses={
        201: {"model": CadreRead, "description": "Created"},
        **problems(
            CadreNotFound,
            HrIdTaken,
            IdNumberTaken,
            CadreNotRegistrable,
            CadreOrgUnitNotFound,
            PostTypeRequired,
            UnprocessableEntity,
            PreconditionFailed,
            StaleWrite,
        ),
    },
)
async def upsert_cadre_by_hr_id(
    hr_id: HrIdPath,
    body: CadreUpsert,
    db_session: DbSession,
    actor: CurrentActor,
    lookups: IdNumberLookupLimit,
    response: Response,
    if_match: IfMatch = None,
) -> CadreRead:
    """Create or update the cadre the HR system knows as `hr_id`. Idempotent: sending the same
    body again changes nothing (same version, same ETag). 201 when created, 200 otherwise. An
    `hr_id` held by a cadre outside the caller's subtree answers 404 `cadre.not_found`. A number
    new to the record counts as a lookup by ID number, as for `createCadre`.

    Scope before uniqueness: the org unit is checked first (one outside the caller's subtree
    answers 422 `cadre.org_unit_not_found`). A clash with a cadre the caller can see names the
    field (`cadre.hr_id_taken`, `cadre.id_number_taken`); a clash with one outside the caller's
    subtree answers `cadre.not_registrable` for either field, naming neither field nor cadre
    (an administrator can move a cadre between units)."""
    if if_match is not None:
        existing = await service.find_by_hr_id(db_session, hr_id, actor)
        if existing is not None:
            check_if_match(if_match, existing.version)
    cadre, created = await service.upsert_by_hr_id(db_session, hr_id, body, actor, lookups)
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"{API_PREFIX}/cadres/{cadre.id}"
    set_etag(response, cadre.version)
    return to_read(cadre, actor)


@router.get("/{cadre_id}", operation_id="getCadre", responses=problems(CadreNotFound))
async def get_cadre(
    cadre_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> CadreRead:
    """One cadre of the caller's scope, personal data shown as the caller's role may see it, with
    its `ETag` for `If-Match`; 404 outside the scope."""
    cadre = await service.get_cadre(db_session, cadre_id, actor)
    set_etag(response, cadre.version)
    return to_read(cadre, actor)


@router.patch(
    "/{cadre_id}",
    operation_id="updateCadre",
    responses=problems(
        CadreNotFound,
        IdNumberTaken,
        CadreNotRegistrable,
        CadreOrgUnitNotFound,
        PostTypeRequired,
        UnprocessableEntity,
        PreconditionFailed,
        StaleWrite,
    ),
)
async def update_cadre(
    cadre_id: uuid.UUID,
    body: CadreUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    lookups: IdNumberLookupLimit,
    response: Response,
    if_match: IfMatch = None,
) -> CadreRead:
    """Change a cadre's fields. A new ID number counts as a lookup by ID number, as for
    `createCadre`.

    Scope before uniqueness: the org unit is checked first (one outside the caller's subtree
    answers 422 `cadre.org_unit_not_found`). A clash with a cadre the caller can see names the
    field (`cadre.hr_id_taken`, `cadre.id_number_taken`); a clash with one outside the caller's
    subtree answers `cadre.not_registrable` for either field, naming neither field nor cadre
    (an administrator can move a cadre between units)."""
    cadre = await service.get_cadre(db_session, cadre_id, actor)
    check_if_match(if_match, cadre.version)
    await service.update_cadre(db_session, cadre, body, actor, lookups)
    set_etag(response, cadre.version)
    return to_read(cadre, actor)


@router.delete(
    "/{cadre_id}",
    operation_id="deactivateCadre",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(CadreNotFound, PreconditionFailed),
)
async def deactivate_cadre(
    cadre_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, if_match: IfMatch = None
) -> None:
    """Deactivate the cadre. Records are never erased: their training history stays."""
    cadre = await service.get_cadre(db_session, cadre_id, actor)
    check_if_match(if_match, cadre.version)
    await service.deactivate_cadre(db_session, cadre)
