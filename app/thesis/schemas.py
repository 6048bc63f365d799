import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from app.enums import ThesisGrade, ThesisKind
from app.pagination import Page
from app.schema_types import TEXT_PATTERN, InputModel, Name, OutputModel, Version
from app.thesis.models import BODY_MAX, COMMENT_MAX


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("the text is blank")
    return value


# The text itself: paragraphs (line breaks), at most BODY_MAX characters, not blank.
Body = Annotated[
    str,
    StringConstraints(min_length=1, max_length=BODY_MAX, pattern=TEXT_PATTERN),
    AfterValidator(_not_blank),
]
Comment = Annotated[str, StringConstraints(max_length=COMMENT_MAX, pattern=TEXT_PATTERN)]


class CollectionFormat(StrEnum):
    """The file of a 论文汇编: a printable PDF or a Word document."""

    pdf = "pdf"
    docx = "docx"


MEDIA_TYPES = {
    CollectionFormat.pdf: "application/pdf",
    CollectionFormat.docx: (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    ),
}


class ThesisCreate(InputModel):
    cadre_id: uuid.UUID | None = Field(
        default=None,
        description="Whose text: a cadre's own by default; staff hand in a paper for a cadre "
        "in their scope",
    )
    kind: ThesisKind
    title: Name
    body: Body = Field(description=f"The text, paragraphs by line breaks; ≤ {BODY_MAX} characters")
    training_session_id: uuid.UUID | None = Field(
        description="The session it is handed in with (the cadre holds a place in it); `null` "
        "for a thesis handed in alone, which names its `study_log_id` instead. Exactly one of "
        "the two is given",
    )
    study_log_id: uuid.UUID | None = Field(
        default=None,
        description="Handed in alone: the cadre's own study log of kind `thesis`. Exactly one of "
        "training_session_id and study_log_id",
    )

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.training_session_id is None) == (self.study_log_id is None):
            raise ValueError("name exactly one of training_session_id and study_log_id")
        return self


class ThesisUpdate(InputModel):
    title: Name | None = None
    body: Body | None = None


class ThesisGradeSet(InputModel):
    grade: ThesisGrade
    comment: Comment | None = Field(default=None, description="Why, for the author")


class ThesisRead(OutputModel):
    id: uuid.UUID
    cadre_id: uuid.UUID
    kind: ThesisKind
    title: str
    body: str
    training_session_id: uuid.UUID | None
    study_log_id: uuid.UUID | None
    submitted_at: datetime
    grade: ThesisGrade | None = Field(description="null until graded")
    graded_at: datetime | None
    grade_comment: str | None
    version: Version
    created_at: datetime
    updated_at: datetime


class ThesisPage(Page[ThesisRead]):
    pass
