"""The course and teacher catalogue (课程库 / 师资库, docs/rules.md, "Catalogue"): org_admins
manage their subtree's catalogue, admins every catalogue; entries are deactivated, never deleted,
so a session part that names one keeps it."""

import uuid
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.catalogue import repository
from app.catalogue.errors import (
    CourseNotFound,
    CourseTitleTaken,
    NotCatalogueManager,
    ReferencedCourseNotFound,
    ReferencedTeacherNotFound,
    TeacherNotFound,
)
from app.catalogue.models import Course, Teacher
from app.catalogue.schemas import CourseCreate, CourseUpdate, TeacherCreate, TeacherUpdate
from app.db import flush_mapping_conflicts
from app.enums import Role
from app.errors import AppError, ProblemFieldError
from app.org_unit import repository as org_units
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.pagination import PageParams, paginate

Entry = TypeVar("Entry", Course, Teacher)
# One active course title per unit, case and surrounding spaces ignored (migration 0029).
_TITLE_UNIQUE = "uq_course_title"


async def _get(
    db_session: AsyncSession,
    model: type[Entry],
    entry_id: uuid.UUID,
    actor: Actor,
    *,
    for_update: bool = False,
) -> Entry:
    found = await repository.get(db_session, model, entry_id, actor, for_update=for_update)
    if found is None:
        raise CourseNotFound() if model is Course else TeacherNotFound()
    return found


async def get_course(
    db_session: AsyncSession, course_id: uuid.UUID, actor: Actor, *, for_update: bool = False
) -> Course:
    return await _get(db_session, Course, course_id, actor, for_update=for_update)


async def get_teacher(
    db_session: AsyncSession, teacher_id: uuid.UUID, actor: Actor, *, for_update: bool = False
) -> Teacher:
    return await _get(db_session, Teacher, teacher_id, actor, for_update=for_update)


async def list_entries(
    db_session: AsyncSession,
    model: type[Entry],
    actor: Actor,
    page: PageParams,
    *,
    org_unit_id: uuid.UUID | None,
    active: bool | None,
) -> tuple[list[Entry], str | None]:
    path = None
    if org_unit_id is not None:
        unit = await org_units.get(db_session, org_unit_id, actor)
        if unit is None:
            raise OrgUnitNotFound()
        path = unit.path
    stmt = repository.list_query(model, actor, unit_path=path, active=active)
    return await paginate(db_session, stmt, model.id, page)


async def _check_manages(db_session: AsyncSession, org_unit_id: uuid.UUID, actor: Actor) -> str:
    """An admin, or an org_admin whose subtree holds the unit; the unit's path."""
    path = await repository.unit_path(db_session, org_unit_id)
    assert path is not None  # an entry's unit exists (foreign key, RESTRICT)
    if actor.role == Role.admin:
        return path
    if actor.role != Role.org_admin or actor.org_path is None:
        raise NotCatalogueManager()
    if not path.startswith(actor.org_path):
        raise NotCatalogueManager()
    return path


async def _owning_unit(db_session: AsyncSession, org_unit_id: uuid.UUID, actor: Actor) -> str:
    if await org_units.get(db_session, org_unit_id, actor) is None:
        raise ReferencedOrgUnitNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/org_unit_id", detail="no such org unit", code="not_found"
                )
            ]
        )
    return await _check_manages(db_session, org_unit_id, actor)


async def check_usable(
    db_session: AsyncSession,
    model: type[Course] | type[Teacher],
    ids: Sequence[uuid.UUID | None],
    unit_path: str,
    pointer: str,
) -> None:
    """Every id given names an active entry the unit at `unit_path` may use (its own, an
    ancestor's or its subtree's catalogue); otherwise 422 with a pointer per bad id.
    `pointer` is formatted with the index of the id."""
    wanted = [i for i in ids if i is not None]
    usable = await repository.usable_ids(db_session, model, wanted, unit_path)
    bad = [
        ProblemFieldError(
            pointer=pointer.format(n), detail="not in the catalogue", code="not_found"
        )
        for n, i in enumerate(ids)
        if i is not None and i not in usable
    ]
    if bad:
        error: AppError = (
            ReferencedCourseNotFound(errors=bad)
            if model is Course
            else ReferencedTeacherNotFound(errors=bad)
        )
        raise error


async def create_teacher(db_session: AsyncSession, data: TeacherCreate, actor: Actor) -> Teacher:
    await _owning_unit(db_session, data.org_unit_id, actor)
    teacher = Teacher(**data.model_dump(), active=True)
    db_session.add(teacher)
    await db_session.flush()
    return teacher


async def update_teacher(
    db_session: AsyncSession, teacher: Teacher, data: TeacherUpdate, actor: Actor
) -> Teacher:
    await _check_manages(db_session, teacher.org_unit_id, actor)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field in ("name", "specialties", "kind", "active"):
            continue
        setattr(teacher, field, value)
    await db_session.flush()
    await db_session.refresh(teacher)
    return teacher


async def create_course(db_session: AsyncSession, data: CourseCreate, actor: Actor) -> Course:
    path = await _owning_unit(db_session, data.org_unit_id, actor)
    await check_usable(db_session, Teacher, data.teacher_ids, path, "/body/teacher_ids/{}")
    course = Course(**data.model_dump(), active=True)
    db_session.add(course)
    # a duplicate title, even a concurrent one, loses at the unique index: 409, never a 500
    await flush_mapping_conflicts(db_session, {_TITLE_UNIQUE: CourseTitleTaken()})
    return course


async def update_course(
    db_session: AsyncSession, course: Course, data: CourseUpdate, actor: Actor
) -> Course:
    path = await _check_manages(db_session, course.org_unit_id, actor)
    if data.teacher_ids is not None:
        await check_usable(db_session, Teacher, data.teacher_ids, path, "/body/teacher_ids/{}")
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field in ("title", "topic_tags", "teacher_ids", "active"):
            continue
        setattr(course, field, value)
    await flush_mapping_conflicts(db_session, {_TITLE_UNIQUE: CourseTitleTaken()})
    await db_session.refresh(course)
    return course
