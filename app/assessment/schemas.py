import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.compliance.schemas import FiveYearFigures, OnlineFigures
from app.credit_policy.engine import Requirement, RequirementStatus
from app.enums import AssessmentRating, Language, Rank, RankGroup, StudyLogKind
from app.pagination import Page
from app.schema_types import (
    LINE_PATTERN,
    Decimal2,
    InputModel,
    Int,
    OutputModel,
    Text,
    Version,
)

OverrideReason = Annotated[
    str, StringConstraints(min_length=1, max_length=2000, pattern=LINE_PATTERN)
]


_OVERRIDE = (
    "Admins only: why `excellent` is recorded although the year's training requirement is not "
    "met (docs/rules.md rule 9). Refused (422) when no override is needed."
)


class AssessmentCreate(InputModel):
    cadre_id: uuid.UUID
    year: Int = Field(ge=1900, le=2199)
    rating: AssessmentRating
    comment: Text | None = None
    override_reason: OverrideReason | None = Field(default=None, description=_OVERRIDE)


class AssessmentUpdate(InputModel):
    rating: AssessmentRating | None = None
    comment: Text | None = None
    override_reason: OverrideReason | None = Field(
        default=None,
        description=_OVERRIDE + " A new rating, or a new reason, is a new decision on the "
        "figures of the day; a new rating without a reason drops the previous one.",
    )


_REVISION_1 = "Null in a snapshot frozen under rules revision 1, which did not record it"


class SnapshotFiveYear(FiveYearFigures):
    """The five-year block (docs/rules.md rule 4) on Dec 31 of the year, without its logs."""

    years: int = Field(description="The window's length in years")
    explanation: str


class SnapshotAnnual(OutputModel):
    """The annual block (docs/rules.md rule 5) of the year, without its per-log credits."""

    year: int
    span_start: date
    span_end: date
    centralised_days: Decimal2
    # A snapshot is evidence, never rewritten: one frozen under rules revision 1 (before
    # migration 0010) has no centralised or counted hours, nor counted kinds.
    centralised_hours: Decimal2 | None = Field(default=None, description=_REVISION_1)
    counted_hours: Decimal2 | None = Field(default=None, description=_REVISION_1)
    counted_kinds: list[StudyLogKind] | None = Field(default=None, description=_REVISION_1)
    credited_hours: Decimal2
    required_hours: Decimal2 | None
    required_days: Decimal2 | None
    status: RequirementStatus
    shortfall_days: Decimal2 | None
    shortfall_hours: Decimal2 | None
    policy_code: str
    explanation: str


class SnapshotOnline(OnlineFigures):
    """The online block (docs/rules.md rule 6) of the year, without its logs."""

    explanation: str


class TrainingSnapshot(OutputModel):
    """The training figures a rating was decided on (docs/rules.md rule 9), frozen when it was
    set: the compliance blocks on Dec 31 of the year, as `getCadreCompliance` gives them then,
    without the per-log derivation. Its texts (`reason`, `explanation`) stay in the language
    they were written in, which `lang` names."""

    year: int
    as_of: date = Field(description="Dec 31 of `year`")
    policy_code: str
    rank: Rank
    rank_group: RankGroup
    promoted_on: date | None
    requirements: list[Requirement] = Field(
        description="The requirements that apply to the rank (empty: none, and `excellent` "
        "needs no training condition)"
    )
    excellent_allowed: bool = Field(description="Whether every requirement listed is held")
    reason: str
    lang: Language = Field(
        default=Language.en,
        description="The language of the four texts frozen with the snapshot: `reason` and the "
        "`explanation` of `five_year`, `annual` and `online`. They stay in the language of the "
        "request that set the rating, whatever a later request asks for (en in snapshots frozen "
        "before the field existed)",
    )
    five_year: SnapshotFiveYear
    annual: SnapshotAnnual
    online: SnapshotOnline
    override_reason: str | None = Field(
        default=None,
        description="The admin's reason when `excellent` was recorded although not allowed "
        "(null otherwise, and in snapshots frozen before overrides existed)",
    )


class AssessmentRead(OutputModel):
    id: uuid.UUID
    cadre_id: uuid.UUID
    year: int
    rating: AssessmentRating
    comment: str | None
    override_reason: str | None = Field(
        description="Set when an admin recorded `excellent` despite an unmet requirement"
    )
    training_snapshot: TrainingSnapshot
    version: Version
    created_at: datetime
    updated_at: datetime


class AssessmentPage(Page[AssessmentRead]):
    pass
