import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from app.enums import PostType, QualificationStatus, Rank, TrainingForm
from app.schema_types import (
    LINE_PATTERN,
    TEXT_PATTERN,
    InputModel,
    LocalDate,
    Name,
    OutputModel,
    ValidityYears,
    Version,
)

Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=LINE_PATTERN)]
Evidence = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=TEXT_PATTERN)]


class QualificationTypeCreate(InputModel):
    org_unit_id: uuid.UUID = Field(description="The unit owning it: in force in its subtree")
    name: Name
    validity_years: ValidityYears = Field(description="Valid this many whole years (rule 13)")
    required_post_types: list[PostType] = Field(default_factory=list, max_length=len(PostType))
    required_ranks: list[Rank] = Field(default_factory=list, max_length=len(Rank))
    required_org_unit_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=100,
        description="Required of cadres in these units' subtrees. Every non-empty list must "
        "match; all three empty: required of nobody",
    )
    granting_forms: list[TrainingForm] = Field(
        default_factory=list,
        max_length=len(TrainingForm),
        description="Completing a session of one of these forms grants it",
    )
    granting_course_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=100,
        description="Completing a session that teaches one of these catalogue courses (a "
        "part's course, or the session's `course_ids` when it has no parts) grants it. Each "
        "names an active course the owning unit may use (422 "
        "`catalogue.course_reference_not_found`)",
    )

    @field_validator(
        "required_post_types",
        "required_ranks",
        "required_org_unit_ids",
        "granting_forms",
        "granting_course_ids",
    )
    @classmethod
    def _distinct(cls, values: list[Any]) -> list[Any]:
        return list(dict.fromkeys(values))


class QualificationTypeRead(OutputModel):
    id: uuid.UUID
    org_unit_id: uuid.UUID
    name: str
    validity_years: int
    required_post_types: list[PostType]
    required_ranks: list[Rank]
    required_org_unit_ids: list[uuid.UUID]
    granting_forms: list[TrainingForm]
    granting_course_ids: list[uuid.UUID]
    version: Version
    created_at: datetime
    updated_at: datetime


class CadreQualificationCreate(InputModel):
    qualification_type_id: uuid.UUID
    valid_from: LocalDate = Field(description="The first valid day")
    evidence: Evidence = Field(description="What the qualification rests on (证书编号, 文件)")


class QualificationRevoke(InputModel):
    reason: Reason


class CadreQualificationRead(OutputModel):
    id: uuid.UUID
    cadre_id: uuid.UUID
    qualification_type_id: uuid.UUID
    valid_from: date
    valid_until: date = Field(description="The last valid day, inclusive (rule 13)")
    evidence: str
    granted_by_form: TrainingForm | None = Field(description="null: recorded by hand")
    certificate_id: uuid.UUID | None = Field(
        description="The certificate (结业证书) a completed class granted it by; revoking the "
        "certificate revokes it. null: recorded by hand"
    )
    revoked_at: datetime | None
    revoke_reason: str | None
    status: QualificationStatus | None = Field(
        description="On `on` (today by default); null before `valid_from`"
    )
    version: Version


class CadreQualificationList(OutputModel):
    items: list[CadreQualificationRead]


class QualificationTypeList(OutputModel):
    items: list[QualificationTypeRead]


class RequiredQualificationRead(OutputModel):
    """One qualification the cadre's post or unit requires (docs/rules.md rule 13)."""

    qualification_type_id: uuid.UUID
    name: str
    held: bool = Field(description="`valid` or `expiring` on the day: the post is covered")
    status: QualificationStatus | None = Field(
        description="Of the qualification that speaks for the cadre (a covering one with the "
        "latest `valid_until`, else the latest held); null when none is held"
    )
    valid_until: date | None = Field(description="Its last valid day; null when none is held")
    cadre_qualification_id: uuid.UUID | None


class QualificationReportRow(OutputModel):
    cadre_id: uuid.UUID
    hr_id: str
    name: str
    org_unit_id: uuid.UUID
    post_type: PostType
    rank: Rank
    qualification_type_id: uuid.UUID
    qualification_name: str
    status: QualificationStatus | None = Field(
        description="Of the qualification that speaks for the cadre; null when none is held"
    )
    valid_until: date | None


class QualificationReportRead(OutputModel):
    org_unit_id: uuid.UUID
    on: date
    within_days: int
    missing: list[QualificationReportRow] = Field(
        description="Cadres whose post or unit requires a qualification not `valid` or "
        "`expiring` on `on` (never held, expired, revoked, or not yet begun)"
    )
    expiring: list[QualificationReportRow] = Field(
        description="Cadres holding it on `on` whose `valid_until` falls in the next "
        "`within_days` days (`on` … `on` + within_days − 1), as the rule's `expiring` window"
    )
