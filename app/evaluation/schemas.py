import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from app.enums import EvaluationStatus, EvaluationSubject
from app.pagination import Page
from app.schema_types import (
    TEXT_PATTERN,
    Bool,
    Code,
    Decimal2,
    EvaluationScore,
    IndicatorWeight,
    InputModel,
    LocalDate,
    Name,
    OutputModel,
    Version,
)

MAX_INDICATORS = 60
MAX_SCORES = 30
MAX_RATINGS = 200

CommentText = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=TEXT_PATTERN)]

# --- forms --------------------------------------------------------------------------------------


class IndicatorCreate(InputModel):
    subject: EvaluationSubject = Field(description="What the indicator rates")
    code: Code = Field(description="Stable across revisions (e.g. `content`): reports match by it")
    label: Name
    weight: IndicatorWeight = Field(description="Weight in the weighted score, 0 < w ≤ 100")


class EvaluationFormRevisionCreate(InputModel):
    name: Name
    allow_comments: Bool = Field(description="Trainees may add free text per rated subject")
    indicators: list[IndicatorCreate] = Field(
        min_length=1,
        max_length=MAX_INDICATORS,
        description="Each rated 1–5; positions follow the list order within each subject. At "
        "least one `session` indicator; codes unique within a subject",
    )


class EvaluationFormCreate(EvaluationFormRevisionCreate):
    org_unit_id: uuid.UUID = Field(description="The unit that owns the form")


class EvaluationFormUpdate(InputModel):
    active: Bool = Field(description="false: no longer attachable to sessions")


class IndicatorRead(OutputModel):
    subject: EvaluationSubject
    position: int = Field(description="1-based, within the subject: the index of its score")
    code: str
    label: str
    weight: Decimal2


class EvaluationFormRead(OutputModel):
    id: uuid.UUID
    org_unit_id: uuid.UUID
    name: str
    lineage_id: uuid.UUID = Field(description="The id of the form's revision 1")
    revision: int
    allow_comments: bool
    active: bool
    indicators: list[IndicatorRead] = Field(description="By subject, then position")
    version: Version
    created_at: datetime
    updated_at: datetime


class EvaluationFormPage(Page[EvaluationFormRead]):
    pass


# --- a session's evaluation ---------------------------------------------------------------------


class SessionEvaluationPut(InputModel):
    form_id: uuid.UUID = Field(description="The latest revision of an active form")
    opens_on: LocalDate | None = Field(
        default=None,
        description="Open early on this day (from the session's start_date to its end_date); "
        "null: it opens the day the session closes",
    )


class EvaluationSubjectRead(OutputModel):
    subject: EvaluationSubject
    subject_id: uuid.UUID = Field(description="The session's, the course's or the teacher's id")
    label: str = Field(description="The session's title, the course's title, the teacher's name")


class EvaluationMe(OutputModel):
    may_answer: bool = Field(description="The caller may answer now")
    has_answered: bool


class SessionEvaluationRead(OutputModel):
    training_session_id: uuid.UUID
    form: EvaluationFormRead
    status: EvaluationStatus
    opened_early: bool = Field(description="The organiser opened it on a day of the session")
    opens_on: date | None = Field(
        description="First day: the early opening day, else the day the session closed; null "
        "while not known"
    )
    closes_on: date | None = Field(description="Last day (inclusive); null while not known")
    open_days: int
    closed_early: bool = Field(description="The organiser closed it before its last day")
    subjects: list[EvaluationSubjectRead] = Field(
        description="What may be rated: the session, then its courses and teachers"
    )
    answered_count: int
    eligible_count: int = Field(description="Enrollments that may answer (or have answered)")
    me: EvaluationMe | None = Field(description="For a cadre caller; null otherwise")
    version: Version


# --- answering ----------------------------------------------------------------------------------


class RatingCreate(InputModel):
    subject: EvaluationSubject
    subject_id: uuid.UUID | None = Field(
        default=None, description="The course or teacher rated; null for the session"
    )
    scores: list[EvaluationScore] = Field(
        min_length=1,
        max_length=MAX_SCORES,
        description="1–5, one per indicator of the subject, in position order",
    )


class CommentCreate(InputModel):
    subject: EvaluationSubject
    subject_id: uuid.UUID | None = Field(default=None, description="null for the session")
    body: CommentText

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a comment needs some text")
        return value


class EvaluationAnswerCreate(InputModel):
    ratings: list[RatingCreate] = Field(
        min_length=1,
        max_length=MAX_RATINGS,
        description="Exactly one for the session; any of its courses and teachers, each once",
    )
    comments: list[CommentCreate] = Field(
        default_factory=list,
        max_length=MAX_RATINGS,
        description="Only if the form allows comments; at most one per rated subject",
    )
