import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.enums import EnrollmentOrigin, EnrollmentStatus, NominationOutcome, NominationReviewAction
from app.i18n import N_
from app.schema_types import LINE_PATTERN, Decimal2, Hours, InputModel, OutputModel, Score, Version
from app.training_session.schemas import TrainingSessionRead

# One line: a reason kept in the record and the audit trail, not a letter.
LeaveExceptionReason = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=LINE_PATTERN)
]
ReviewReason = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=LINE_PATTERN)]


class EnrollmentCreate(InputModel):
    cadre_id: uuid.UUID
    origin: EnrollmentOrigin | None = Field(
        default=None,
        description="`roll_call` (点名调学 by the organiser: enrolled at once), `self` (the "
        "cadre itself, unless the organiser turned self-enrollment off), or `nomination` (the "
        "cadre's unit nominates; the organiser reviews it). Omitted: `self` for a cadre, "
        "`roll_call` for an `admin` or an `org_admin` of the organising unit's tree, "
        "`nomination` for any other `org_admin`. A withdrawn or rejected cadre is nominated "
        "again on the same enrollment. docs/rules.md rule 11",
    )
    replaces_enrollment_id: uuid.UUID | None = Field(
        default=None,
        description="With `nomination`: the `substitute_requested` enrollment this nomination "
        "replaces; it is withdrawn and its seat passes to the new nomination (422 "
        "`field_not_allowed` with another origin)",
    )


class EnrollmentUpdate(InputModel):
    status: EnrollmentStatus | None = Field(
        default=None,
        description="`confirmed`, `withdrawn` (also of a nomination or a waitlisted "
        "enrollment), or `enrolled` again after a withdrawal, as a new enrollment of its "
        "origin (`waitlisted` when the session is full, unless a roll call); a nomination "
        "comes back by nominating the cadre again. "
        "`completed` and `dropped_out` are set by closing the session; the review states by "
        "`POST /enrollments/{enrollment_id}/review` (docs/rules.md rule 11).",
    )
    leave_hours: Hours | None = Field(default=None, description="Hours of leave taken so far")
    score: Score | None = Field(default=None, description="0 to 100")
    leave_exception_reason: LeaveExceptionReason | None = Field(
        default=None,
        description="Grant an exception to the leave cap, with its reason (N6, art. 15 原则上): "
        "closing then completes the trainee even with leave above 1/7 of the credit hours "
        "(docs/rules.md rule 7). `null` withdraws the exception. Only an `admin` or an "
        "`org_admin` of the organising unit's tree may set it, and only before the session "
        "closes.",
    )
    leave_override_reason: LeaveExceptionReason | None = Field(
        default=None,
        description="In a session with parts, leave is computed from attendance (docs/rules.md "
        "rule 12); typing `leave_hours` there overrides it and needs this reason (audited). "
        "`null` returns to the computed leave.",
    )


class EnrollmentRead(OutputModel):
    id: uuid.UUID
    training_session_id: uuid.UUID
    cadre_id: uuid.UUID
    origin: EnrollmentOrigin
    status: EnrollmentStatus
    leave_hours: Decimal2
    score: Decimal2 | None
    leave_exception_reason: str | None = Field(
        description="The organiser's exception to the leave cap, if granted (docs/rules.md rule 7)"
    )
    audience_org_unit_id: uuid.UUID | None = Field(
        description="The audience unit whose seat quota the enrollment counts against; null "
        "outside the audience"
    )
    nominated_by_org_unit_id: uuid.UUID | None = Field(
        description="The unit whose administrator nominated the cadre"
    )
    review_reason: str | None = Field(
        description="The organiser's reason for a rejection or a substitute request"
    )
    waitlist_position: int | None = Field(
        description="Order on the session's waitlist, while `waitlisted`: gaps allowed; lower "
        "goes first"
    )
    leave_override_reason: str | None = Field(
        description="Why the typed leave_hours overrides the leave computed from attendance "
        "(sessions with parts, docs/rules.md rule 12)"
    )
    version: Version
    created_at: datetime
    updated_at: datetime


class EnrollmentReview(InputModel):
    action: NominationReviewAction = Field(
        description="`approve` (→ enrolled), `reject` (→ rejected: frees the seat) or "
        "`request_substitute` (→ substitute_requested: the unit keeps the seat for a replacement)"
    )
    reason: ReviewReason | None = Field(
        default=None, description="Required to reject or to ask for a substitute"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.action != NominationReviewAction.approve and self.reason is None:
            raise ValueError(N_("a rejection or a substitute request needs a reason"))
        return self


class NominationBatch(InputModel):
    cadre_ids: list[uuid.UUID] = Field(
        min_length=1,
        max_length=500,
        description="The cadres to nominate, e.g. the candidates of the roll-call report",
    )


class NominationRow(OutputModel):
    index: int = Field(description="0-based position in `cadre_ids`")
    cadre_id: uuid.UUID
    outcome: NominationOutcome
    enrollment_id: uuid.UUID | None = Field(description="The enrollment created, if any")
    waitlist_position: int | None = Field(
        description="Order on the waitlist (gaps allowed; lower goes first), if waitlisted"
    )
    code: str | None = Field(description="The problem code of a refused row")
    detail: str | None


class NominationReport(OutputModel):
    training_session_id: uuid.UUID
    created: int
    waitlisted: int
    refused: int
    rows: list[NominationRow]


class EnrollmentOutcomeRead(OutputModel):
    enrollment_id: uuid.UUID
    cadre_id: uuid.UUID
    status: EnrollmentStatus = Field(description="`completed` or `dropped_out` (退学)")
    leave_hours: Decimal2 = Field(
        description="The leave that decided: computed from attendance in a session with parts "
        "(unless overridden), typed otherwise"
    )
    leave_cap: Decimal2 | None = Field(
        description="credit_hours × the policy's leave share (1/7); null where no cap applies "
        "(a session that is not centralised)"
    )
    leave_exception_reason: str | None = Field(
        description="The organiser's exception to the leave cap, if granted: the trainee "
        "completes even with leave above it"
    )
    hours: Decimal2 = Field(description="credit_hours − leave_hours; 0 when dropped out")
    days: Decimal2 = Field(description="session days × hours / credit_hours")
    study_log_id: uuid.UUID | None = Field(
        description="The approved log issued, if completed with hours or days to credit"
    )
    explanation: str


class SessionClose(InputModel):
    force_reason: LeaveExceptionReason | None = Field(
        default=None,
        description="Close although some parts have enrollments without an attendance mark "
        "(docs/rules.md rule 12); the reason is kept on the session (audited). An unmarked "
        "part counts as attended.",
    )


class SessionClosing(BaseModel):
    """What closing a session decided, trainee by trainee."""

    training_session: TrainingSessionRead
    completed: int
    dropped_out: int
    outcomes: list[EnrollmentOutcomeRead]
