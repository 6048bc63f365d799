import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.clock import local_today
from app.db import ReadSession
from app.http import API_PREFIX, problems
from app.online import report
from app.online.report_schemas import OnlineAnomaliesRead
from app.org_unit import service as org_unit_service
from app.org_unit.errors import OrgUnitNotFound
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}/reports", tags=["reports"])


@router.get(
    "/online-anomalies",
    operation_id="getOnlineAnomaliesReport",
    responses=problems(OrgUnitNotFound),
)
async def get_online_anomalies_report(
    db_session: ReadSession,
    actor: CurrentActor,
    org_unit_id: uuid.UUID,
    year: Annotated[int | None, Query(ge=1900, le=2199, description="Default: this year")] = None,
    top: Annotated[
        int, Query(ge=1, le=1000, description="How many flagged records to list (not a page)")
    ] = 100,
) -> OnlineAnomaliesRead:
    """The online records of the year (their log's date) that failed a plausibility check
    (刷课, docs/rules.md "Plausibility flags"), for the cadres of the unit and its subtree: the
    flags per rule in the subtree and per unit (its own cadres), and the latest `top` flagged
    records with each flag's evidence. A flagged record's log waits as `pending` for a
    reviewer. An `org_admin` reads its own subtree; `admin` and `auditor` any unit."""
    root = await org_unit_service.get_org_unit(db_session, org_unit_id, actor)
    return await report.online_anomalies(db_session, root, year or local_today().year, top)
