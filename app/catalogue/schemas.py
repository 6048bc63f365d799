import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from app.enums import TeacherKind
from app.pagination import Page
from app.schema_types import (
    Bool,
    Decimal2,
    InputModel,
    Name,
    OutputModel,
    PositiveHours,
    ShortName,
    Version,
)

MAX_TAGS = 20
MAX_TEACHERS = 50


def _distinct(values: list[Any] | None) -> list[Any] | None:
    return None if values is None else list(dict.fromkeys(values))


class TeacherCreate(InputModel):
    org_unit_id: uuid.UUID = Field(description="The unit whose catalogue holds the teacher")
    name: Name
    organisation: Name | None = Field(default=None, description="Where the teacher works")
    title: Name | None = Field(default=None, description="Job or academic title (职称/职务)")
    specialties: list[ShortName] = Field(
        default_factory=list, max_length=MAX_TAGS, description="Fields taught (专长)"
    )
    kind: TeacherKind

    @field_validator("specialties")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str] | None:
        return _distinct(values)


class TeacherUpdate(InputModel):
    name: Name | None = None
    organisation: Name | None = None
    title: Name | None = None
    specialties: list[ShortName] | None = Field(default=None, max_length=MAX_TAGS)
    kind: TeacherKind | None = None
    active: Bool | None = Field(
        default=None, description="false: deactivated, no longer named by new session parts"
    )

    @field_validator("specialties")
    @classmethod
    def _unique(cls, values: list[str] | None) -> list[str] | None:
        return _distinct(values)


class TeacherRead(OutputModel):
    id: uuid.UUID
    org_unit_id: uuid.UUID
    name: str
    organisation: str | None
    title: str | None
    specialties: list[str]
    kind: TeacherKind
    active: bool
    version: Version
    created_at: datetime
    updated_at: datetime


class TeacherPage(Page[TeacherRead]):
    pass


class CourseCreate(InputModel):
    org_unit_id: uuid.UUID = Field(description="The unit whose catalogue holds the course")
    title: Name
    topic_tags: list[ShortName] = Field(
        default_factory=list, max_length=MAX_TAGS, description="Topics (专题), e.g. 党性教育"
    )
    default_hours: PositiveHours | None = Field(
        default=None, description="学时 the course usually takes"
    )
    teacher_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_TEACHERS,
        description="Catalogue teachers who teach it, visible to the course's unit",
    )

    @field_validator("topic_tags", "teacher_ids")
    @classmethod
    def _unique(cls, values: list[Any]) -> list[Any] | None:
        return _distinct(values)


class CourseUpdate(InputModel):
    title: Name | None = None
    topic_tags: list[ShortName] | None = Field(default=None, max_length=MAX_TAGS)
    default_hours: PositiveHours | None = None
    teacher_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_TEACHERS)
    active: Bool | None = Field(
        default=None, description="false: deactivated, no longer named by new session parts"
    )

    @field_validator("topic_tags", "teacher_ids")
    @classmethod
    def _unique(cls, values: list[Any] | None) -> list[Any] | None:
        return _distinct(values)


class CourseRead(OutputModel):
    id: uuid.UUID
    org_unit_id: uuid.UUID
    title: str
    topic_tags: list[str]
    default_hours: Decimal2 | None
    teacher_ids: list[uuid.UUID]
    active: bool
    version: Version
    created_at: datetime
    updated_at: datetime


class CoursePage(Page[CourseRead]):
    pass
