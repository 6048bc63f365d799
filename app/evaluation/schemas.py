"""Request and response bodies of the evaluation domain."""

# ---------------------------------------------------------------------------------------------
# Reports (rule 14, the figures).

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

from app.enums import EvaluationGroupBy, EvaluationStatus, EvaluationSubject, EvaluationWithheld
from app.schema_types import Decimal2, OutputModel

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
    answers: int
    figures: EvaluationFiguresRead | None = Field(
        description="null while the evaluation is not closed, or below the minimum answers"
    )
    withheld: EvaluationWithheld | None = Field(description="Why `figures` is null")


class SessionEvaluationReportRead(OutputModel):
    training_session_id: uuid.UUID
    status: EvaluationStatus
    min_answers: int = Field(description="APP_EVALUATION__MIN_ANSWERS")
    groups: list[SubjectReportRead] = Field(
        description="The session first, then its courses, then its teachers, each by label"
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
