import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.enums import AssessmentRating
from app.schema_types import InputModel, Int, OutputModel, Text


class AssessmentCreate(InputModel):
    cadre_id: uuid.UUID
    year: Int = Field(ge=1900, le=2199)
    rating: AssessmentRating
    comment: Text | None = None


class AssessmentUpdate(InputModel):
    rating: AssessmentRating | None = None
    comment: Text | None = None


class AssessmentRead(OutputModel):
    id: uuid.UUID
    cadre_id: uuid.UUID
    year: int
    rating: AssessmentRating
    comment: str | None
    training_snapshot: dict[str, Any] = Field(
        description="The training figures the rating was decided on, frozen when it was set"
    )
    version: int
    created_at: datetime
    updated_at: datetime
