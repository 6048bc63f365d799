import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.cadre.errors import CadreNotFound
from app.clock import local_today
from app.compliance import service
from app.compliance.schemas import ComplianceRead, CreditsRead
from app.credit_policy.errors import NoPolicyForDate
from app.db import DbSession
from app.http import API_PREFIX, problems
from app.schema_types import LocalDate
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}/cadres", tags=["credits and compliance"])


@router.get(
    "/{cadre_id}/credits",
    operation_id="getCadreCredits",
    responses=problems(CadreNotFound, NoPolicyForDate),
)
async def get_cadre_credits(
    cadre_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    year: Annotated[int | None, Query(ge=1900, le=2199, description="Default: this year")] = None,
) -> CreditsRead:
    """学时 of one calendar year, whole year (`docs/rules.md` rules 1–3): per kind the
    recorded (raw) hours, the credited hours after the kind's factor or per-item credit, the cap
    and what remains after it — and per log its share of the year and what the cap removed.
    `counted_hours` is what the annual requirement compares over the whole year (rule 5: the
    capped hours of the kinds marked `annual_counted`)."""
    result = await service.credits(db_session, cadre_id, year or local_today().year, actor)
    read = CreditsRead.model_validate(result)
    read.cadre_id = cadre_id
    return read


@router.get(
    "/{cadre_id}/compliance",
    operation_id="getCadreCompliance",
    responses=problems(CadreNotFound, NoPolicyForDate),
)
async def get_cadre_compliance(
    cadre_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    as_of: Annotated[
        LocalDate | None, Query(description="Evaluation day (local date). Default: today")
    ] = None,
) -> ComplianceRead:
    """The five-year (leading ranks), annual (other ranks) and online (everyone) requirements
    on `as_of` (`docs/rules.md` rules 4–6). A block whose rank group is not subject to it says
    `not_applicable` and still shows its figures.

    The annual block (rule 5) is met by `centralised_days` ≥ `required_days` or by
    `counted_hours` ≥ `required_hours`; the counted hours are the credited hours of the
    policy's `annual_hours_kinds` (`cn-2023`: centralised training only). `credited_hours`
    (every kind after caps) is shown for information and not compared."""
    result = await service.compliance(db_session, cadre_id, as_of or local_today(), actor)
    read = ComplianceRead.model_validate(result)
    read.cadre_id = cadre_id
    return read
