import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer, StringConstraints, field_validator

from app.enums import EvaluationGroupBy, EvaluationStatus, EvaluationSubject, EvaluationWithheld
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


# ---------------------------------------------------------------------------------------------
# Reports (rule 14, the figures).

# A share from 0 to 1 with four decimals, e.g. "0.7778" (77.78 %).
Share = Annotated[
    Decimal,
    PlainSerializer(str, return_type=str, when_used="json"),
    Field(json_schema_extra={"format": "decimal"}),
]


class IndicatorFiguresRead(OutputModel):
    code: str = Field(description="The indicator's code, stable across the form's revisions")
    label: str = Field(description="The label of the newest revision among the answers")
    answers: int = Field(description="Answers that rated this indicator")
    mean: Decimal2 | None = Field(
        description="Mean score (1–5), two decimals half up; null when fewer than the minimum "
        "answers rated it (a code only some revisions have)"
    )


class EvaluationFiguresRead(OutputModel):
    """docs/rules.md rule 14: the figures of a group of answers."""

    weighted_score: Decimal2 = Field(
        description="Mean over the answers of Σ weight × score / Σ weight, two decimals half up"
    )
    satisfaction_rate: Share = Field(
        description="满意率: the share (0–1, four decimals half up) of answers whose weighted "
        "score is 4 or more"
    )
    indicators: list[IndicatorFiguresRead] = Field(description="By position, then code")


class SubjectReportRead(OutputModel):
    subject: EvaluationSubject
    subject_id: uuid.UUID = Field(description="The session's, the course's or the teacher's id")
    label: str = Field(description="The session's title, the course's title, the teacher's name")
    answers: int | None = Field(
        description="The answers rating this subject; while the evaluation is not closed, only "
        "the session's (every answer rates it), null for each course and teacher"
    )
    figures: EvaluationFiguresRead | None = Field(
        description="null while the evaluation is not closed, or below the minimum answers"
    )
    withheld: EvaluationWithheld | None = Field(description="Why `figures` is null")


class SessionEvaluationReportRead(OutputModel):
    training_session_id: uuid.UUID
    status: EvaluationStatus
    min_answers: int = Field(description="APP_EVALUATION__MIN_ANSWERS")
    groups: list[SubjectReportRead] = Field(
        description="The session, then its courses and teachers as its evaluation lists them, "
        "then any other course or teacher its answers rated"
    )


class SubjectCommentsRead(OutputModel):
    subject: EvaluationSubject
    subject_id: uuid.UUID
    label: str
    comments: list[str] = Field(description="Sorted by text; empty when withheld")
    withheld: EvaluationWithheld | None = Field(description="Why no comments are shown")


class SessionEvaluationCommentsRead(OutputModel):
    training_session_id: uuid.UUID
    status: EvaluationStatus
    groups: list[SubjectCommentsRead]


class EvaluationReportGroupRead(OutputModel):
    key: str | None = Field(
        description="The session's, course's or teacher's id, the provider (null: sessions "
        "without one), or the year"
    )
    label: str
    sessions: int = Field(description="Sessions with answers in the group")
    answers: int
    figures: EvaluationFiguresRead | None
    withheld: EvaluationWithheld | None


class EvaluationReportRead(OutputModel):
    group_by: EvaluationGroupBy
    year: int | None
    org_unit_id: uuid.UUID | None
    min_answers: int
    groups: list[EvaluationReportGroupRead] = Field(description="By label, then key")
    truncated: bool = Field(description="More groups than `limit` matched; narrow the report")


class TeacherReviewSessionRead(OutputModel):
    training_session_id: uuid.UUID
    title: str
    end_date: date
    answers: int
    weighted_score: Decimal2


class TeacherReviewRead(OutputModel):
    teacher_id: uuid.UUID
    name: str
    sessions: list[TeacherReviewSessionRead] = Field(
        description="The latest sessions with figures, oldest first: each below the threshold"
    )


class TeacherReviewReportRead(OutputModel):
    org_unit_id: uuid.UUID | None
    review_below: Decimal2 = Field(description="APP_EVALUATION__REVIEW_BELOW")
    review_sessions: int = Field(description="APP_EVALUATION__REVIEW_SESSIONS")
    min_answers: int
    teachers: list[TeacherReviewRead] = Field(description="By name, then id")
