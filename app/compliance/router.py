import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.cadre.errors import CadreNotFound
from app.clock import local_today
from app.compliance import service
from app.compliance.errors import FutureYear
from app.compliance.schemas import (
    ComplianceRead,
    ComplianceReportRead,
    CreditsRead,
    FiveYearRead,
    PromotionCheckRead,
    RollCallCandidateRead,
    RollCallRead,
    StatusCounts,
    UnitCompliance,
)
from app.credit_policy.engine import RequirementStatus
from app.credit_policy.errors import NoPolicyForDate
from app.db import ReadSession
from app.enums import ComplianceInclude, PostType, Rank
from app.http import API_PREFIX, AppSettings, problems
from app.org_unit import service as org_unit_service
from app.org_unit.errors import OrgUnitNotFound
from app.query_alias import resolve_alias
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
    db_session: ReadSession,
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
    db_session: ReadSession,
    actor: CurrentActor,
    settings: AppSettings,
    as_of: Annotated[
        LocalDate | None, Query(description="Evaluation day (local date). Default: today")
    ] = None,
    include: Annotated[
        ComplianceInclude | None,
        Query(
            description="`derivation`: also list the logs behind each figure (`five_year.logs`, "
            "`five_year.ignored_logs`, `online.logs`); without it those lists are empty"
        ),
    ] = None,
) -> ComplianceRead:
    """The five-year (leading ranks), annual (other ranks) and online (everyone) requirements
    on `as_of` (`docs/rules.md` rules 4–6). A block whose rank group is not subject to it says
    `not_applicable` and still shows its figures.

    The annual block (rule 5) is met by `centralised_days` ≥ `required_days` or by
    `counted_hours` ≥ `required_hours`; the counted hours are the credited hours of the
    policy's `annual_hours_kinds` (`cn-2023`: centralised training only). `credited_hours`
    (every kind after caps) is shown for information and not compared.

    The answer carries the figures, statuses and explanations; the logs behind them (rule 2's
    per-log shares, rule 1's ignored logs) come with `?include=derivation` only
    (`derivation_included` says which answer this is).

    `qualifications` lists each qualification the cadre's post or unit requires (持证上岗,
    rule 13) with whether it is held (`valid` or `expiring`) on `as_of`."""
    day = as_of or local_today()
    result = await service.compliance(
        db_session, cadre_id, day, actor, expiring_days=settings.qualification.expiring_days
    )
    with_derivation = include is ComplianceInclude.derivation
    figures = result.figures if with_derivation else service.without_derivation(result.figures)
    read = ComplianceRead.model_validate(figures)
    read.cadre_id = cadre_id
    read.derivation_included = with_derivation
    read.qualifications = result.qualifications
    return read


@router.get(
    "/{cadre_id}/promotion-check",
    operation_id="getCadrePromotionCheck",
    responses=problems(CadreNotFound, NoPolicyForDate),
)
async def get_cadre_promotion_check(
    cadre_id: uuid.UUID,
    db_session: ReadSession,
    actor: CurrentActor,
    target_rank: Annotated[Rank, Query(description="The rank of the post the cadre would take")],
    post_type: Annotated[
        PostType, Query(description="The target post: a leading post (领导职务) or a grade (职级)")
    ],
    on: Annotated[
        LocalDate | None,
        Query(description="The day of the move (local date). Default: today"),
    ] = None,
) -> PromotionCheckRead:
    """培训与使用相结合: may the cadre take the target post on `on`, as far as training goes
    (`docs/rules.md` rule 15)? For 考察 teams, before a promotion.

    The five-year requirement (rule 4, N1) of the target rank is evaluated on `on`, as the
    compliance read would show it once the move is recorded that day: `meets`; `needs_catch_up`
    when it is not met but the move is a promotion into a leading post (N2: the training is
    completed within the policy's grace, by `grace_deadline`; or the grace of an earlier
    promotion still runs); `not_met` when it is not met and no grace covers the move (a leading
    rank without a leading post has no grace year); `not_applicable` when the target rank has no
    five-year requirement (the annual requirement is not a condition of promotion). The
    figures, the shortfall and each step of the derivation come with it. Same roles and scope
    as the compliance read; `on` may be any day, the figures counting the logs on file."""
    day = on or local_today()
    result = await service.check_promotion(
        db_session,
        cadre_id,
        target_rank=target_rank,
        target_post_type=post_type,
        on=day,
        actor=actor,
    )
    five = result.five_year
    return PromotionCheckRead(
        cadre_id=cadre_id,
        on=result.on,
        rank=result.rank,
        post_type=result.post_type,
        target_rank=result.target_rank,
        target_post_type=result.target_post_type,
        move=result.move,
        promotion_into_leading_post=result.promotion_into_leading_post,
        promoted_on=result.promoted_on,
        outcome=result.outcome,
        policy_code=five.policy_code,
        window_start=five.window_start,
        window_end=five.window_end,
        centralised_days=five.centralised_days,
        centralised_hours=five.centralised_hours,
        required_days=five.required_days,
        required_hours=five.required_hours,
        shortfall_days=five.shortfall_days,
        shortfall_hours=five.shortfall_hours,
        grace_deadline=result.grace_deadline,
        five_year=FiveYearRead.model_validate(five),
        steps=list(result.steps),
        explanation=result.explanation,
    )


report_router = APIRouter(prefix=f"{API_PREFIX}/reports", tags=["reports"])

Year = Annotated[int | None, Query(ge=1900, le=2199, description="Default: this year")]


def _counts(counts: dict[RequirementStatus, int]) -> StatusCounts:
    return StatusCounts(
        met=counts.get(RequirementStatus.met, 0),
        in_grace=counts.get(RequirementStatus.in_grace, 0),
        not_met=counts.get(RequirementStatus.not_met, 0),
        not_applicable=counts.get(RequirementStatus.not_applicable, 0),
    )


@report_router.get(
    "/compliance",
    operation_id="getComplianceReport",
    responses=problems(OrgUnitNotFound, NoPolicyForDate, FutureYear),
)
async def get_compliance_report(
    db_session: ReadSession,
    actor: CurrentActor,
    org_unit_id: uuid.UUID,
    year: Year = None,
    levels: Annotated[
        int, Query(ge=0, le=10, description="How many levels below the unit to list")
    ] = 1,
) -> ComplianceReportRead:
    """Per org unit, with its whole subtree: active headcount; five-year met / in grace / not
    met; annual and online met; trained this year against the 1/5 roll-call quota."""
    root = await org_unit_service.get_org_unit(db_session, org_unit_id, actor)
    report = await service.compliance_report(db_session, root, year or local_today().year, levels)
    return ComplianceReportRead(
        org_unit_id=root.id,
        year=year or local_today().year,
        as_of=report.as_of,
        policy_code=report.policy.code,
        units=[
            UnitCompliance(
                org_unit_id=unit.id,
                code=unit.code,
                name=unit.name,
                parent_id=unit.parent_id,
                depth=unit.depth,
                headcount=totals.headcount,
                five_year=_counts(totals.five_year),
                annual=_counts(totals.annual),
                online=_counts(totals.online),
                trained=totals.trained,
                quota=totals.quota,
            )
            for unit, totals in report.units
        ],
    )


@report_router.get(
    "/roll-call",
    operation_id="getRollCallReport",
    responses=problems(OrgUnitNotFound, NoPolicyForDate, FutureYear),
)
async def get_roll_call_report(
    request: Request,
    db_session: ReadSession,
    actor: CurrentActor,
    org_unit_id: uuid.UUID,
    year: Year = None,
    top: Annotated[
        int, Query(ge=1, le=1000, description="How many candidates to list (not a page size)")
    ] = 100,
    limit: Annotated[
        int | None,
        Query(ge=1, le=1000, deprecated=True, description="Deprecated alias of `top`"),
    ] = None,
) -> RollCallRead:
    """点名调学 (docs/rules.md rule 8): the quota ceil(active cadres / 5) of the unit and its
    subtree, how many are trained this year, and the untrained cadres ranked by who to nominate
    next, each with the reason for its place."""
    sent_top = top if "top" in request.query_params else None
    top = resolve_alias("top", sent_top, "limit", limit) or top
    root = await org_unit_service.get_org_unit(db_session, org_unit_id, actor)
    result = await service.roll_call(db_session, root, year or local_today().year, top)
    return RollCallRead(
        org_unit_id=root.id,
        year=result.year,
        as_of=result.as_of,
        policy_code=result.policy.code,
        active=result.active,
        quota=result.quota,
        trained=result.trained,
        untrained=result.untrained,
        candidates=[RollCallCandidateRead.model_validate(c) for c in result.candidates],
    )
