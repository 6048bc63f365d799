import uuid
from datetime import datetime

from pydantic import Field

from app.enums import EnrollmentOrigin, EnrollmentStatus
from app.schema_types import Decimal2, Hours, InputModel, OutputModel, Score


class EnrollmentCreate(InputModel):
    cadre_id: uuid.UUID
    origin: EnrollmentOrigin = Field(
        default=EnrollmentOrigin.roll_call,
        description="`roll_call` (点名调学, nominated by the organiser) or `self`",
    )


class EnrollmentUpdate(InputModel):
    status: EnrollmentStatus | None = Field(
        default=None,
        description="`confirmed`, `withdrawn`, or `enrolled` again after a withdrawal. "
        "`completed` and `dropped_out` are set by closing the session.",
    )
    leave_hours: Hours | None = Field(default=None, description="Hours of leave taken so far")
    score: Score | None = Field(default=None, description="0 to 100")


class EnrollmentRead(OutputModel):
    id: uuid.UUID
    training_session_id: uuid.UUID
    cadre_id: uuid.UUID
    origin: EnrollmentOrigin
    status: EnrollmentStatus
    leave_hours: Decimal2
    score: Decimal2 | None
    version: int
    created_at: datetime
    updated_at: datetime
