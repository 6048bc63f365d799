import uuid
from datetime import date, datetime
from typing import Self

from pydantic import Field, model_validator

from app.enums import SessionStatus, TrainingForm
from app.i18n import N_
from app.schema_types import (
    Bool,
    Capacity,
    Decimal2,
    InputModel,
    Int,
    LocalDate,
    Name,
    OutputModel,
    PositiveDays,
    PositiveHours,
    Version,
)

CREATABLE_STATUSES = (SessionStatus.draft, SessionStatus.open)


class TrainingSessionCreate(InputModel):
    title: Name
    form: TrainingForm
    centralised: Bool = Field(
        description="Centralised (集中/脱产) training counts toward the five-year and annual days"
    )
    provider: Name | None = Field(default=None, description="Party school, cadre college, ...")
    organiser_org_unit_id: uuid.UUID
    start_date: LocalDate
    end_date: LocalDate
    days: PositiveDays = Field(description="Training days (may be fewer than the calendar days)")
    credit_hours: PositiveHours = Field(description="学时 a full attendance earns")
    capacity: Int = Field(ge=1, le=100_000)
    status: SessionStatus = Field(
        default=SessionStatus.draft, description="`draft` or `open` at creation"
    )
    plan_item_id: uuid.UUID | None = Field(
        default=None,
        description="The planned class (班次) it holds: one of an approved plan of the organiser "
        'unit, for the year the session starts in (docs/rules.md, "Training plans")',
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        if self.days > (self.end_date - self.start_date).days + 1:
            raise ValueError("days exceeds the calendar days between start_date and end_date")
        if self.status not in CREATABLE_STATUSES:
            raise ValueError(N_("a session is created as draft or open"))
        return self


class TrainingSessionUpdate(InputModel):
    title: Name | None = None
    form: TrainingForm | None = None
    centralised: Bool | None = None
    provider: Name | None = None
    start_date: LocalDate | None = None
    end_date: LocalDate | None = None
    days: PositiveDays | None = None
    credit_hours: PositiveHours | None = None
    capacity: Capacity | None = None
    status: SessionStatus | None = Field(
        default=None,
        description="draft → open → running; any of them → cancelled. Closing is `POST .../close`.",
    )
    plan_item_id: uuid.UUID | None = Field(
        default=None, description="The planned class it holds; null unlinks it"
    )


class TrainingSessionRead(OutputModel):
    id: uuid.UUID
    title: str
    form: TrainingForm
    centralised: bool
    provider: str | None
    organiser_org_unit_id: uuid.UUID
    start_date: date
    end_date: date
    days: Decimal2
    credit_hours: Decimal2
    capacity: int
    enrolled: int = Field(description="Active (enrolled or confirmed) enrollments")
    status: SessionStatus
    plan_item_id: uuid.UUID | None = Field(description="The planned class it holds, if any")
    version: Version
    created_at: datetime
    updated_at: datetime
