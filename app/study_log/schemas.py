import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Self

from pydantic import Field, model_validator

from app.enums import StudyLogKind, StudyLogSource, StudyLogStatus
from app.i18n import N_
from app.pagination import Page
from app.schema_types import (
    Days,
    Decimal2,
    Hours,
    InputModel,
    LocalDate,
    Name,
    OutputModel,
    Text,
    Version,
)

CREATABLE_STATUSES = (StudyLogStatus.pending, StudyLogStatus.approved)


class StudyLogCreate(InputModel):
    cadre_id: uuid.UUID
    kind: StudyLogKind
    title: Name
    provider: Name | None = None
    start_date: LocalDate = Field(description="First local date (Asia/Shanghai) of the activity")
    end_date: LocalDate = Field(description="Last local date, inclusive")
    hours: Hours = Field(description="Recorded 学时 (per-item kinds ignore it for credit)")
    days: Days = Field(default=Decimal(0), description="Training days, for centralised training")
    note: Text | None = None
    status: StudyLogStatus = Field(
        default=StudyLogStatus.pending,
        description="`pending` (to be reviewed) or `approved` (recorded by the training office)",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.end_date < self.start_date:
            raise ValueError(N_("end_date is before start_date"))
        calendar_days = (self.end_date - self.start_date).days + 1
        if self.days > calendar_days:
            raise ValueError(N_("days exceeds the calendar days between start_date and end_date"))
        if self.hours > 24 * calendar_days:
            raise ValueError(N_("hours exceeds 24 hours a calendar day"))
        if self.status not in CREATABLE_STATUSES:
            raise ValueError(N_("a study log is created as pending or approved"))
        return self


class ReviewAction(InputModel):
    comment: Text | None = Field(default=None, description="Reviewer's remark, kept on the log")


class StudyLogRead(OutputModel):
    id: uuid.UUID
    cadre_id: uuid.UUID
    kind: StudyLogKind
    title: str
    provider: str | None
    start_date: date
    end_date: date
    hours: Decimal2
    days: Decimal2
    status: StudyLogStatus
    source: StudyLogSource
    training_session_id: uuid.UUID | None
    enrollment_id: uuid.UUID | None
    note: str | None
    review_comment: str | None
    reviewed_at: datetime | None
    version: Version
    created_at: datetime
    updated_at: datetime


class StudyLogPage(Page[StudyLogRead]):
    pass
