from fastapi import APIRouter

from app.cadre.errors import HrIdTaken, IdNumberTaken
from app.db import DbSession
from app.http import API_PREFIX, AppSettings, problems
from app.idempotency.route import IdempotentRoute
from app.security import CurrentActor
from app.sync import cadres, org_units
from app.sync.errors import SnapshotScopeNotFound, SnapshotTooDestructive
from app.sync.schemas import CadreSync, OrgUnitSync, OrgUnitSyncReport, SyncReport

router = APIRouter(prefix=f"{API_PREFIX}/sync", tags=["sync"], route_class=IdempotentRoute)


@router.post(
    "/cadres",
    operation_id="syncCadres",
    responses=problems(SnapshotTooDestructive, SnapshotScopeNotFound, HrIdTaken, IdNumberTaken),
)
async def sync_cadres(
    body: CadreSync, settings: AppSettings, db_session: DbSession, actor: CurrentActor
) -> SyncReport:
    """Bulk upsert of cadres keyed by HR id (each item a `CadreSyncItem`, its unit named by
    `org_unit_code`). Every row is checked on its own and reported (`results`, with JSON pointers
    for rejected rows); the valid ones are written together. A NUL or a lone surrogate anywhere
    in the items refuses the whole request (422, a pointer to each). Sending the same rows again
    changes nothing. `dry_run` answers the same report and writes nothing. `mode: snapshot` with
    `snapshot_of` also deactivates the unit subtree's active cadres missing from the items — but
    refuses (409) to take more than `APP_SYNC_MAX_DEACTIVATION_SHARE` (10%) of any unit at once
    unless `force` is set. `promoted_on` follows docs/rules.md rule 4 as for every cadre write:
    a row that promotes the cadre into a leading post and names no date sets it to the day of
    the sync (the grace year starts by itself). A row that leaves `post_type` out keeps the
    stored one; a row that names it states it (`post_type_stated`), and the first `leading`
    stated for a cadre whose `non_leading` was never stated is no promotion. A cadre another
    request creates meanwhile with a row's HR id or ID number answers 409
    (`cadre.hr_id_taken`, `cadre.id_number_taken`), writing nothing: send the rows again."""
    return await cadres.sync_cadres(db_session, body, actor, settings.sync_max_deactivation_share)


@router.post(
    "/org-units",
    operation_id="syncOrgUnits",
    responses=problems(SnapshotTooDestructive, SnapshotScopeNotFound),
)
async def sync_org_units(
    body: OrgUnitSync, settings: AppSettings, db_session: DbSession, actor: CurrentActor
) -> OrgUnitSyncReport:
    """Bulk upsert of org units keyed by `code`, parents named by `parent_code` (in the database
    or anywhere in the request). Each row is checked and written on its own and reported (a NUL
    or a lone surrogate anywhere in the items refuses the whole request: 422);
    moving a unit to another parent carries its subtree. Idempotent; `dry_run` writes nothing.
    `mode: snapshot` with `snapshot_of` also deactivates the active units below that unit which
    the items leave out — refused (409) beyond `APP_SYNC_MAX_DEACTIVATION_SHARE` (10%) of them
    unless `force` is set; a unit that would leave active cadres or units under an inactive one
    is reported, not deactivated."""
    return await org_units.sync_org_units(
        db_session, body, actor, settings.sync_max_deactivation_share
    )
