"""Response bodies of the computed figures. Field names the front ends rely on are kept exactly;
every figure comes with the logs and rules behind it."""

import uuid
from datetime import date

from pydantic import Field

from app.credit_policy.engine import RequirementStatus
from app.enums import (
    PostType,
    PromotionMove,
    PromotionOutcome,
    Rank,
    RankGroup,
    StudyLogKind,
    StudyLogStatus,
)
from app.qualification.schemas import RequiredQualificationRead
from app.schema_types import Decimal2, OutputModel


class IgnoredLogRead(OutputModel):
    log_id: str
    kind: StudyLogKind
    status: StudyLogStatus


class LogCreditRead(OutputModel):
    log_id: str
    kind: StudyLogKind
    start_date: date
    end_date: date
    overlap_days: int = Field(description="Calendar days of the log inside the period")
    total_days: int
    share: Decimal2 = Field(description="overlap_days / total_days (docs/rules.md rule 2)")
    days: Decimal2
    raw_hours: Decimal2
    credited_hours: Decimal2 = Field(description="After the kind's factor or per-item credit")
    counted_hours: Decimal2 = Field(description="What remains after the annual cap")
    removed_by_cap: Decimal2
    rule: str
    explanation: str


class KindCreditsRead(OutputModel):
    kind: StudyLogKind
    rule: str
    raw_hours: Decimal2
    credited_hours: Decimal2
    cap: Decimal2 | None
    capped_hours: Decimal2
    annual_counted: bool = Field(
        description="Whether the capped hours count toward the annual hours alternative (the "
        "policy's annual_hours_kinds, docs/rules.md rule 5)"
    )
    logs: list[LogCreditRead]


class CreditsRead(OutputModel):
    cadre_id: uuid.UUID | None = None
    year: int
    span_start: date
    span_end: date
    policy_code: str
    total_hours: Decimal2 = Field(description="Capped hours of every kind")
    centralised_days: Decimal2
    centralised_hours: Decimal2 = Field(
        description="Recorded hours of the centralised kinds (no factor, no cap)"
    )
    counted_hours: Decimal2 = Field(
        description="Capped hours of the policy's annual_hours_kinds: what the annual "
        "requirement compares (docs/rules.md rule 5)"
    )
    online_hours: Decimal2
    by_kind: list[KindCreditsRead]
    ignored_logs: list[IgnoredLogRead]
    notes: list[str]


class WindowLogRead(OutputModel):
    log_id: str
    start_date: date
    end_date: date
    overlap_days: int
    total_days: int
    share: Decimal2
    days: Decimal2
    hours: Decimal2


class FiveYearFigures(OutputModel):
    """The five-year block's figures (docs/rules.md rule 4), as the compliance read gives them
    and as an assessment's snapshot freezes them."""

    window_start: date
    window_end: date
    centralised_days: Decimal2
    centralised_hours: Decimal2
    required_days: Decimal2 | None
    required_hours: Decimal2 | None
    status: RequirementStatus
    shortfall_days: Decimal2 | None
    shortfall_hours: Decimal2 | None
    grace_deadline: date | None
    met_until: date | None = Field(
        description="Last day it stays met if nothing new is recorded (logs age out)"
    )
    policy_code: str


class FiveYearRead(FiveYearFigures):
    logs: list[WindowLogRead]
    ignored_logs: list[IgnoredLogRead]
    explanation: str


class AnnualRead(OutputModel):
    """docs/rules.md rule 5: met when `centralised_days` ≥ `required_days` or `counted_hours` ≥
    `required_hours`."""

    year: int
    span_start: date
    span_end: date
    centralised_days: Decimal2 = Field(description="Compared with required_days")
    centralised_hours: Decimal2 = Field(
        description="Recorded hours of the centralised kinds (no factor, no cap)"
    )
    counted_hours: Decimal2 = Field(
        description="Credited hours (after caps) of the policy's annual_hours_kinds: compared "
        "with required_hours"
    )
    counted_kinds: list[StudyLogKind] = Field(
        description="The policy's annual_hours_kinds (cn-2023: centralised_training)"
    )
    credited_hours: Decimal2 = Field(
        description="Every kind after caps: shown for information, not compared"
    )
    required_hours: Decimal2 | None
    required_days: Decimal2 | None
    status: RequirementStatus
    shortfall_days: Decimal2 | None
    shortfall_hours: Decimal2 | None = Field(description="Of the counted hours")
    policy_code: str
    explanation: str


class OnlineFigures(OutputModel):
    """The online block's figures (docs/rules.md rule 6), as the compliance read gives them and
    as an assessment's snapshot freezes them."""

    year: int
    span_start: date
    span_end: date
    hours: Decimal2
    required_hours: Decimal2 | None
    status: RequirementStatus
    shortfall_hours: Decimal2 | None
    policy_code: str


class OnlineRead(OnlineFigures):
    logs: list[LogCreditRead]
    explanation: str


class ComplianceRead(OutputModel):
    cadre_id: uuid.UUID | None = None
    as_of: date
    rank: Rank
    rank_group: RankGroup
    promoted_on: date | None
    five_year: FiveYearRead
    annual: AnnualRead
    online: OnlineRead
    derivation_included: bool = Field(
        default=False,
        description="Whether the logs behind the figures are listed (`?include=derivation`): "
        "without it `five_year.logs`, `five_year.ignored_logs` and `online.logs` are empty",
    )
    qualifications: list[RequiredQualificationRead] = Field(
        default_factory=list,
        description="Each qualification the cadre's post or unit requires, on `as_of` "
        "(持证上岗, docs/rules.md rule 13)",
    )


class StatusCounts(OutputModel):
    met: int
    in_grace: int = 0
    not_met: int
    not_applicable: int


class UnitCompliance(OutputModel):
    org_unit_id: uuid.UUID
    code: str
    name: str
    parent_id: uuid.UUID | None
    depth: int
    headcount: int = Field(description="Active cadres of the unit and its whole subtree")
    five_year: StatusCounts
    annual: StatusCounts
    online: StatusCounts
    trained: int = Field(description="Cadres with centralised days attributed to the year")
    quota: int = Field(description="ceil(headcount / 5): the year's roll-call quota")


class ComplianceReportRead(OutputModel):
    org_unit_id: uuid.UUID
    year: int
    as_of: date = Field(description="Dec 31 for a past year, today for the current one")
    policy_code: str
    units: list[UnitCompliance] = Field(
        description="The unit, then its descendants down to `levels`, each with subtree totals"
    )


class RollCallCandidateRead(OutputModel):
    position: int
    cadre_id: uuid.UUID
    hr_id: str
    name: str
    org_unit_id: uuid.UUID
    rank: Rank
    group: str = Field(description="five_year_not_met, five_year_in_grace or other")
    five_year_status: RequirementStatus
    grace_deadline: date | None
    outstanding_requirement: str = Field(description="five_year, annual or none")
    outstanding: Decimal2 = Field(description="Share (0–1) of that requirement still missing")
    last_centralised_on: date | None
    reason: str = Field(
        description="Why the cadre is on the list, in the answer's language (zh-CN by default, en "
        "on Accept-Language: en); match on group and outstanding_requirement, not on this text"
    )


class RollCallRead(OutputModel):
    org_unit_id: uuid.UUID
    year: int
    as_of: date
    policy_code: str
    active: int
    quota: int = Field(description="ceil(active / 5) (docs/rules.md rule 8)")
    trained: int
    untrained: int
    candidates: list[RollCallCandidateRead] = Field(
        description="Untrained cadres in the order to call them, at most `limit`"
    )


class PromotionCheckRead(OutputModel):
    """The promotion check (docs/rules.md rule 15): the five-year requirement (rule 4) of the
    target post on `on`, and whether the move may be made with the grace year of N2."""

    cadre_id: uuid.UUID
    on: date = Field(description="The day of the move checked (local date)")
    rank: Rank = Field(description="The cadre's rank now")
    post_type: PostType = Field(description="The cadre's post type now")
    target_rank: Rank
    target_post_type: PostType
    move: PromotionMove = Field(
        description="What the move is, by rule 4's definition (the rule that sets promoted_on)"
    )
    promotion_into_leading_post: bool = Field(
        description="Whether the move is a promotion into a leading post (提拔担任领导职务, "
        "N2): move is higher_rank or leading_post_same_rank"
    )
    promoted_on: date | None = Field(
        description="The cadre's promoted_on once the move is recorded on `on`: `on` for a "
        "promotion into a leading post, else the stored date, which the move keeps"
    )
    outcome: PromotionOutcome = Field(
        description="meets; needs_catch_up (not met, within a grace: by grace_deadline); "
        "not_met (not met, no grace: a leading rank without a leading post has none); "
        "not_applicable (the target rank has no five-year requirement)"
    )
    policy_code: str
    window_start: date
    window_end: date
    centralised_days: Decimal2
    centralised_hours: Decimal2
    required_days: Decimal2 | None
    required_hours: Decimal2 | None = Field(description="null: the policy has no hours threshold")
    shortfall_days: Decimal2 | None
    shortfall_hours: Decimal2 | None
    grace_deadline: date | None = Field(
        description="For needs_catch_up, the last day to complete the training (N2); else null"
    )
    five_year: FiveYearRead = Field(
        description="The target's five-year block on `on`, as the compliance read would give it "
        "once the move is recorded that day"
    )
    steps: list[str] = Field(
        description="The derivation, one step a line, in the answer's language (zh-CN by "
        "default, en on Accept-Language: en); match on outcome and move, not on this text"
    )
    explanation: str = Field(description="The steps in one text")
