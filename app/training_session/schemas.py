import uuid
from datetime import date, datetime, time
from typing import Annotated, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from app.enums import DayPeriod, SessionStatus, TrainingForm
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
    SeatQuota,
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
    self_enrollment: Bool = Field(
        default=True,
        description="Cadres of the audience may enroll themselves (docs/rules.md rule 11); "
        "`false` leaves the session to nominations and the organiser's roll call",
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
    self_enrollment: Bool | None = None


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
    enrolled: int = Field(
        description="Seats held: enrolled, confirmed, nominated and substitute_requested "
        "enrollments (docs/rules.md rule 11)"
    )
    status: SessionStatus
    plan_item_id: uuid.UUID | None = Field(description="The planned class it holds, if any")
    self_enrollment: bool = Field(description="Cadres of the audience may enroll themselves")
    close_force_reason: str | None = Field(
        description="Why the session was closed with unmarked attendance (docs/rules.md rule 12)"
    )
    closed_on: date | None = Field(
        description="The local day the session was closed (its evaluation opens then, "
        "docs/rules.md rule 14); null until closed"
    )
    version: Version
    created_at: datetime
    updated_at: datetime


class AudienceUnit(InputModel):
    org_unit_id: uuid.UUID
    seat_quota: SeatQuota | None = Field(
        default=None,
        description="调训名额: the seats this unit's cadres may hold at once; null for no quota "
        "of its own (the session's capacity still holds)",
    )


class AudienceUpdate(InputModel):
    units: list[AudienceUnit] = Field(
        min_length=1,
        max_length=500,
        description="The org units whose cadres the session is for (each with its subtree)",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        ids = [u.org_unit_id for u in self.units]
        if len(set(ids)) != len(ids):
            raise ValueError(N_("an org unit appears twice in the audience"))
        return self


class AudienceUnitRead(OutputModel):
    org_unit_id: uuid.UUID
    seat_quota: int | None
    seats_taken: int = Field(
        description="Seats held by enrollments counted against this unit (nominated, "
        "substitute_requested, enrolled or confirmed)"
    )


class AudienceRead(OutputModel):
    training_session_id: uuid.UUID
    capacity: int
    seats_taken: int = Field(description="Seats held in the whole session (`enrolled`)")
    units: list[AudienceUnitRead]


# A local time of day (Asia/Shanghai), "HH:MM".
TimeOfDay = Annotated[
    str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", min_length=5, max_length=5)
]
MAX_PARTS = 200


class SessionPartIn(InputModel):
    part_date: LocalDate = Field(description="The day of the part, within the session's dates")
    period: DayPeriod
    credit_hours: PositiveHours = Field(description="学时 of this part")
    start_time: TimeOfDay | None = Field(
        default=None,
        description="The class's start, local time (Asia/Shanghai): lateness counts from it, and "
        "QR sign-in opens APP_ATTENDANCE__SIGN_IN_OPENS_MINUTES_BEFORE (30) earlier; by default "
        "the period's: 08:00 morning, 14:00 afternoon, 19:00 evening",
    )
    end_time: TimeOfDay | None = Field(
        default=None,
        description="The class's end, local time: QR sign-in closes then, and the start to the "
        "end is the class's length that late arrival and early leaving are counted against; by "
        "default 12:00, 18:00 or 21:30",
    )
    course_id: uuid.UUID | None = Field(
        default=None,
        description="The catalogue course taught (课程库): active, of the organiser's unit, a unit "
        "above it or below it",
    )
    teacher_id: uuid.UUID | None = Field(
        default=None, description="The catalogue teacher (师资库) who teaches it; as for course_id"
    )


class SessionPartsReplace(InputModel):
    """The session's whole list of parts; parts are matched to the existing ones by day and
    period (their ids stay), the others are added, and parts left out are removed."""

    parts: list[SessionPartIn] = Field(
        max_length=MAX_PARTS,
        description="Empty: the session has no parts (leave is then typed per enrollment)",
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        keys = [(p.part_date, p.period) for p in self.parts]
        if len(set(keys)) != len(keys):
            raise ValueError(N_("two parts share a day and period"))
        for part in self.parts:
            if (part.start_time is None) != (part.end_time is None):
                raise ValueError(N_("give both start_time and end_time, or neither"))
            if part.start_time and part.end_time and part.end_time <= part.start_time:
                raise ValueError(N_("a part's end_time must be after its start_time"))
        return self


class SessionPartRead(OutputModel):
    id: uuid.UUID
    training_session_id: uuid.UUID
    part_date: date
    period: DayPeriod
    credit_hours: Decimal2
    start_time: str = Field(description="The class's start, local time (Asia/Shanghai), HH:MM")
    end_time: str = Field(description="The class's end, local time (Asia/Shanghai), HH:MM")
    course_id: uuid.UUID | None = Field(description="The catalogue course taught")
    teacher_id: uuid.UUID | None = Field(description="The catalogue teacher who teaches it")

    @field_validator("start_time", "end_time", mode="before")
    @classmethod
    def _hh_mm(cls, value: object) -> object:
        return value.strftime("%H:%M") if isinstance(value, time) else value


class SessionPartList(OutputModel):
    training_session_id: uuid.UUID
    version: Version = Field(description="The session's version (its ETag)")
    parts: list[SessionPartRead] = Field(description="By day, then morning, afternoon, evening")


class SessionCoursesReplace(InputModel):
    """The session's whole list of catalogue courses, in teaching order."""

    course_ids: list[uuid.UUID] = Field(
        max_length=MAX_PARTS,
        description="Active catalogue courses of the organiser's unit, a unit above or below it",
    )

    @field_validator("course_ids")
    @classmethod
    def _distinct(cls, values: list[uuid.UUID]) -> list[uuid.UUID]:
        return list(dict.fromkeys(values))


class SessionCourseList(OutputModel):
    training_session_id: uuid.UUID
    version: Version = Field(description="The session's version (its ETag)")
    course_ids: list[uuid.UUID] = Field(
        description="The courses listed directly; parts may name theirs too (course_id)"
    )
