"""A notification as `/api/v1/me/notifications` shows it: a union discriminated by `kind`, each
member with the `params` its kind is written with (stored as JSON, a snapshot at writing time),
and the `title` and `body` rendered from them in the request's language."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.enums import NotificationKind, Requirement, RequirementStatus
from app.schema_types import Decimal2, OutputModel


class SessionParams(OutputModel):
    """A session as it was when the notification was written."""

    session_title: str
    start_date: date
    end_date: date


class EnrollmentParams(SessionParams):
    waitlist_position: int | None = Field(description="The place on the waitlist (waitlisted)")


class StartingParams(SessionParams):
    days_before: int = Field(description="Days from the reminder to the start")


class EvaluationParams(OutputModel):
    session_title: str
    closes_on: date | None = Field(description="The evaluation's last day")


class RequirementParams(OutputModel):
    """The compliance figures that put the requirement at risk (docs/rules.md, "Requirement at
    risk")."""

    requirement: Requirement
    evaluated_on: date = Field(description="The day the figures are taken on")
    status: RequirementStatus = Field(description="The requirement's status on `evaluated_on`")
    days_done: Decimal2
    days_required: Decimal2 | None = Field(description="null: the policy has no days alternative")
    hours_done: Decimal2
    hours_required: Decimal2 | None = Field(description="null: the policy has no hours alternative")


class QualificationParams(OutputModel):
    qualification_name: str
    valid_until: date


class _Notification(OutputModel):
    id: uuid.UUID
    cadre_id: uuid.UUID
    training_session_id: uuid.UUID | None
    enrollment_id: uuid.UUID | None
    cadre_qualification_id: uuid.UUID | None
    title: str = Field(description="In the request's language")
    body: str = Field(description="In the request's language")
    created_at: datetime
    read_at: datetime | None = Field(description="When the cadre marked it read; null: unread")


class NominatedNotification(_Notification):
    kind: Literal[NotificationKind.nominated]
    params: EnrollmentParams


class WaitlistedNotification(_Notification):
    kind: Literal[NotificationKind.waitlisted]
    params: EnrollmentParams


class PromotedFromWaitlistNotification(_Notification):
    kind: Literal[NotificationKind.promoted_from_waitlist]
    params: EnrollmentParams


class SessionChangedNotification(_Notification):
    kind: Literal[NotificationKind.session_changed]
    params: SessionParams


class SessionCancelledNotification(_Notification):
    kind: Literal[NotificationKind.session_cancelled]
    params: SessionParams


class SessionStartingNotification(_Notification):
    kind: Literal[NotificationKind.session_starting]
    params: StartingParams


class EvaluationOpenedNotification(_Notification):
    kind: Literal[NotificationKind.evaluation_opened]
    params: EvaluationParams


class RequirementAtRiskNotification(_Notification):
    kind: Literal[NotificationKind.requirement_at_risk]
    params: RequirementParams


class QualificationExpiringNotification(_Notification):
    kind: Literal[NotificationKind.qualification_expiring]
    params: QualificationParams


NotificationRead = Annotated[
    NominatedNotification
    | WaitlistedNotification
    | PromotedFromWaitlistNotification
    | SessionChangedNotification
    | SessionCancelledNotification
    | SessionStartingNotification
    | EvaluationOpenedNotification
    | RequirementAtRiskNotification
    | QualificationExpiringNotification,
    Field(discriminator="kind"),
]


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )
    unread_count: int = Field(description="The caller's unread notifications, all pages")


class ReadAllResult(OutputModel):
    marked: int = Field(description="How many unread notifications were marked read")
