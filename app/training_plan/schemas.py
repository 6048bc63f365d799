import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_validator

from app.enums import PlanStatus, Rank, TrainingForm
from app.pagination import Page
from app.schema_types import (
    Bool,
    Capacity,
    Decimal2,
    InputModel,
    Month,
    Name,
    OutputModel,
    PositiveDays,
    PositiveHours,
    ShortName,
    Text,
    Version,
    Year,
)

MAX_ITEMS = 200
# Planned seats: bounded as a session's capacity.
Seats = Capacity


class TrainingPlanItemFields(InputModel):
    title: Name
    form: TrainingForm
    centralised: Bool = Field(description="Centralised (集中/脱产) training or not")
    month: Month = Field(description="The month the class is planned for (1–12)")
    days: PositiveDays
    credit_hours: PositiveHours = Field(description="学时 a full attendance will earn")
    target_ranks: list[Rank] = Field(
        default_factory=list,
        max_length=len(Rank),
        description="The ranks the class is for (调训对象); empty: any rank",
    )
    topic_tags: list[ShortName] = Field(
        default_factory=list, max_length=20, description="Topics (专题), e.g. 党性教育"
    )
    planned_seats: Seats = Field(description="Planned seats (计划人数)")

    @field_validator("target_ranks", "topic_tags")
    @classmethod
    def _distinct(cls, values: list[Any]) -> list[Any]:
        return list(dict.fromkeys(values))


class TrainingPlanItemCreate(TrainingPlanItemFields):
    pass


class TrainingPlanItemUpdate(InputModel):
    title: Name | None = None
    form: TrainingForm | None = None
    centralised: Bool | None = None
    month: Month | None = None
    days: PositiveDays | None = None
    credit_hours: PositiveHours | None = None
    target_ranks: list[Rank] | None = Field(default=None, max_length=len(Rank))
    topic_tags: list[ShortName] | None = Field(default=None, max_length=20)
    planned_seats: Seats | None = None


class TrainingPlanCreate(InputModel):
    org_unit_id: uuid.UUID = Field(description="The unit whose plan it is")
    year: Year
    title: Name = Field(description="e.g. 2027年度干部教育培训计划")
    items: list[TrainingPlanItemCreate] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="Its planned classes (班次)"
    )


class PlanReturn(InputModel):
    reason: Annotated[Text, Field(min_length=1, description="What to change before resubmitting")]


class TrainingPlanItemRead(OutputModel):
    id: uuid.UUID
    training_plan_id: uuid.UUID
    title: str
    form: TrainingForm
    centralised: bool
    month: int
    days: Decimal2
    credit_hours: Decimal2
    target_ranks: list[Rank]
    topic_tags: list[str]
    planned_seats: int
    version: Version
    created_at: datetime
    updated_at: datetime


class TrainingPlanRead(OutputModel):
    id: uuid.UUID
    org_unit_id: uuid.UUID
    year: int
    title: str
    status: PlanStatus
    return_reason: str | None = Field(description="Why it was last returned; null once resubmitted")
    submitted_at: datetime | None
    submitted_by: uuid.UUID | None = Field(
        description="The user who last submitted it; that user never approves or returns it"
    )
    decided_at: datetime | None = Field(description="When it was last approved or returned")
    decided_by: uuid.UUID | None = Field(description="The user who approved or returned it")
    items: list[TrainingPlanItemRead]
    version: Version = Field(
        description="Optimistic-lock version; a change to any of its classes raises it too"
    )
    created_at: datetime
    updated_at: datetime


class TrainingPlanSummary(OutputModel):
    """A plan in a list: without its classes."""

    id: uuid.UUID
    org_unit_id: uuid.UUID
    year: int
    title: str
    status: PlanStatus
    return_reason: str | None
    submitted_at: datetime | None
    decided_at: datetime | None
    version: Version
    created_at: datetime
    updated_at: datetime


class TrainingPlanPage(Page[TrainingPlanSummary]):
    pass


class ItemFulfilment(OutputModel):
    plan_item_id: uuid.UUID
    title: str
    month: int
    planned_classes: int = Field(description="Always 1: a planned class (班次)")
    sessions: int = Field(description="Sessions naming the class that are not cancelled")
    held_classes: int = Field(description="Those of them closed: the class was held")
    planned_seats: int
    filled_seats: int = Field(
        description="Enrollments holding or having used a seat (active or completed) in those "
        "sessions"
    )


class FulfilmentTotals(OutputModel):
    planned_classes: int
    sessions: int
    held_classes: int
    fulfilled_classes: int = Field(description="Planned classes with at least one held session")
    planned_seats: int
    filled_seats: int


class PlanFulfilmentRead(OutputModel):
    training_plan_id: uuid.UUID
    org_unit_id: uuid.UUID
    year: int
    status: PlanStatus
    items: list[ItemFulfilment]
    totals: FulfilmentTotals
