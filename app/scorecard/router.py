import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from app.compliance.errors import FutureYear
from app.credit_policy.errors import NoPolicyForDate
from app.db import DbSession, ReadSession
from app.documents.spreadsheet import content_disposition
from app.enums import Language
from app.errors import PreconditionFailed
from app.http import API_PREFIX, IfMatch, problems, set_etag
from app.org_unit.errors import OrgUnitNotFound
from app.scorecard import service, xlsx
from app.scorecard.errors import NoWeight, UnitTargetNotFound
from app.scorecard.schemas import UnitScorecardRead, UnitTargetRead, UnitTargetWrite
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}/org-units", tags=["org units"])
report_router = APIRouter(prefix=f"{API_PREFIX}/reports", tags=["reports"])

TargetYear = Annotated[int, Path(ge=1900, le=2199, description="The year the target is for")]
ReportYear = Annotated[int, Query(ge=1900, le=2199, description="The year scored")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/{org_unit_id}/targets/{year}",
    operation_id="getUnitTarget",
    responses=problems(OrgUnitNotFound, UnitTargetNotFound),
)
async def get_unit_target(
    org_unit_id: uuid.UUID,
    year: TargetYear,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
) -> UnitTargetRead:
    """The weights (and targets) with which the unit scores its child units for the year
    (目标责任制, `docs/rules.md`, "Unit scorecard")."""
    target = await service.get_target(db_session, org_unit_id, year, actor)
    set_etag(response, target.version)
    return service.target_read(target)


@router.put(
    "/{org_unit_id}/targets/{year}",
    operation_id="setUnitTarget",
    responses=problems(OrgUnitNotFound, NoWeight, PreconditionFailed),
)
async def set_unit_target(
    org_unit_id: uuid.UUID,
    year: TargetYear,
    body: UnitTargetWrite,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> UnitTargetRead:
    """Set the unit's scorecard target for the year: each indicator's weight (0–100, at least
    one above 0; relative, Σ w·rate / Σ w) and optionally the rate it should reach, in percent.
    Creates or replaces it. For an `org_admin` of the unit (who scores its child units) or of a
    unit above it, or an `admin`. With `If-Match`, refused with 412 when it changed since."""
    target = await service.put_target(db_session, org_unit_id, year, body, actor, if_match)
    set_etag(response, target.version)
    return service.target_read(target)


_ERRORS = problems(OrgUnitNotFound, NoPolicyForDate, FutureYear)


@report_router.get("/unit-scorecard", operation_id="getUnitScorecard", responses=_ERRORS)
async def get_unit_scorecard(
    db_session: DbSession,
    read_session: ReadSession,
    actor: CurrentActor,
    org_unit_id: uuid.UUID,
    year: ReportYear,
) -> UnitScorecardRead:
    """目标责任制: the direct child units of `org_unit_id`, each with its six indicators
    (numerator, denominator, rate), its weighted score and its rank (1 = best; equal scores
    share a rank), with the weights of the unit's target for the year (or equal weights when it
    has none: `weights_source`). See `docs/rules.md`, "Unit scorecard", for each indicator.

    A past year is frozen: its first read stores the scorecard, and every later read answers
    that snapshot unchanged (`frozen: true`, `frozen_at`), whatever is recorded afterwards.
    The current year is computed live (`frozen: false`). For an `org_admin` of the unit or of a
    unit above it, an `admin` or an `auditor`."""
    return await service.scorecard(db_session, org_unit_id, year, actor, read_session)


_XLSX_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The scorecard as an XLSX workbook: a ranking sheet with a bar chart of "
        "the weighted scores, then one sheet per indicator; an attachment "
        "(`Content-Disposition`) in the language of `lang` (`Content-Language`)",
        "headers": {
            "Content-Disposition": {
                "description": "attachment; filename*=UTF-8''目标责任制-<year>.xlsx "
                "(en: Unit scorecard-<year>.xlsx)",
                "schema": {"type": "string"},
            },
            "Content-Language": {
                "description": "The file's language: the `lang` asked for",
                "schema": {"type": "string"},
            },
        },
        "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
    }
}


@report_router.get(
    "/unit-scorecard.xlsx",
    operation_id="getUnitScorecardXlsx",
    response_class=Response,
    responses={**_XLSX_RESPONSES, **_ERRORS},
)
async def get_unit_scorecard_xlsx(
    db_session: DbSession,
    read_session: ReadSession,
    actor: CurrentActor,
    org_unit_id: uuid.UUID,
    year: ReportYear,
    lang: Annotated[
        Language, Query(description="The language of the workbook: zh-CN (default) or en")
    ] = Language.zh_cn,
) -> Response:
    """The scorecard of `getUnitScorecard` (the same figures, frozen alike) as a workbook: the
    ranking with a bar chart of the weighted scores, then one sheet per indicator (unit,
    numerator, denominator, rate, rank on that indicator). Cells are typed (numbers as
    numbers)."""
    card = await service.scorecard(db_session, org_unit_id, year, actor, read_session)
    body = await asyncio.to_thread(xlsx.render, card, lang)
    headers = {
        "Content-Disposition": content_disposition(xlsx.filename(card, lang)),
        "Content-Language": lang.value,
    }
    return Response(body, media_type=XLSX, headers=headers)
