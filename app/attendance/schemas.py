import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from app.enums import AttendanceMark, AttendanceMethod, LeaveRequestStatus
from app.i18n import N_
from app.pagination import Page
from app.schema_types import LINE_PATTERN, InputModel, Int, OutputModel, Version

Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=LINE_PATTERN)]
MAX_MARKS = 2000
# The longest late arrival or early leaving recorded: a day.
MAX_MINUTES = 24 * 60


class SignInCodeRead(OutputModel):
    sign_in_code: str = Field(
        description="Show it as a QR code; the trainee's app posts it to the scan"
    )
    session_part_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime = Field(description="Fetch a new code before this instant")


class AttendanceScan(InputModel):
    sign_in_code: str = Field(
        min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$", description="The scanned code"
    )


class AttendanceRead(OutputModel):
    id: uuid.UUID
    enrollment_id: uuid.UUID
    session_part_id: uuid.UUID
    mark: AttendanceMark
    method: AttendanceMethod
    marked_at: datetime
    device_id: str | None = Field(description="The X-Device-ID header of the request that marked")
    minutes_missed: int = Field(description="Minutes missed by a late arrival or early leaving")
    leave_request_id: uuid.UUID | None = Field(
        description="The approved leave request behind an `on_leave` mark; null: unapproved"
    )
    flag_reason: str | None = Field(
        description="The organiser's only: why the sign-in is suspected to be by proxy (代签); "
        "`shared_device`: another trainee signed in to the same part from the same `device_id`. "
        "Always null in the answers to anyone else"
    )
    version: Version
    created_at: datetime
    updated_at: datetime


def attendance_read(attendance: object, *, organiser: bool) -> AttendanceRead:
    """The mark as the caller may read it: the proxy flag (代签) is the organiser's alone."""
    read = AttendanceRead.model_validate(attendance)
    return read if organiser else read.model_copy(update={"flag_reason": None})


class AttendancePage(Page[AttendanceRead]):
    pass


class AttendanceMarkIn(InputModel):
    enrollment_id: uuid.UUID
    session_part_id: uuid.UUID
    mark: AttendanceMark
    method: AttendanceMethod = Field(
        default=AttendanceMethod.manual,
        description="`manual`, `card` or `import`; `qr` marks come only from the scan",
    )
    minutes_missed: Int = Field(
        default=0,
        ge=0,
        le=MAX_MINUTES,
        description="For `late` and `left_early`: the minutes missed (docs/rules.md rule 12)",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.method == AttendanceMethod.qr:
            raise ValueError(N_("qr marks come only from the scan"))
        if self.minutes_missed and self.mark not in (
            AttendanceMark.late,
            AttendanceMark.left_early,
        ):
            raise ValueError(N_("minutes_missed is for late and left_early marks only"))
        return self


class AttendanceBulk(InputModel):
    marks: list[AttendanceMarkIn] = Field(min_length=1, max_length=MAX_MARKS)


class MarkOutcome(StrEnum):
    marked = "marked"
    unchanged = "unchanged"
    rejected = "rejected"


class AttendanceBulkRow(OutputModel):
    index: int = Field(description="The row's position in `marks`, from 0")
    enrollment_id: uuid.UUID
    session_part_id: uuid.UUID
    outcome: MarkOutcome
    code: str | None = Field(description="Why the row was rejected: a problem code")
    detail: str | None
    attendance: AttendanceRead | None = Field(description="The mark now recorded")


class AttendanceBulkResult(OutputModel):
    marked: int
    unchanged: int
    rejected: int
    rows: list[AttendanceBulkRow]


class LeaveRequestCreate(InputModel):
    session_part_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    reason: Reason

    @model_validator(mode="after")
    def _unique(self) -> Self:
        if len(set(self.session_part_ids)) != len(self.session_part_ids):
            raise ValueError(N_("a part is listed twice"))
        return self


class LeaveRequestRefusal(InputModel):
    reason: Reason


class LeaveRequestRead(OutputModel):
    id: uuid.UUID
    enrollment_id: uuid.UUID
    session_part_ids: list[uuid.UUID]
    reason: str
    status: LeaveRequestStatus
    decision_reason: str | None = Field(description="Why the organiser refused")
    decided_at: datetime | None
    version: Version
    created_at: datetime
    updated_at: datetime


class LeaveRequestPage(Page[LeaveRequestRead]):
    pass
