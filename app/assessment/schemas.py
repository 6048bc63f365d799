import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from app.enums import AssessmentRating
from app.pagination import Page
from app.schema_types import LINE_PATTERN, InputModel, Int, OutputModel, Text, Version

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


class AssessmentRead(OutputModel):
    id: uuid.UUID
    cadre_id: uuid.UUID
    year: int
    rating: AssessmentRating
    comment: str | None
    override_reason: str | None = Field(
        description="Set when an admin recorded `excellent` despite an unmet requirement"
    )
    training_snapshot: dict[str, Any] = Field(
        description="The training figures the rating was decided on, frozen when it was set"
    )
    version: Version
    created_at: datetime
    updated_at: datetime


class AssessmentPage(Page[AssessmentRead]):
    pass
