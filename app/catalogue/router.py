import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.catalogue import service
from app.catalogue.errors import (
    CourseNotFound,
    CourseTitleTaken,
    NotCatalogueManager,
    ReferencedTeacherNotFound,
    TeacherNotFound,
)
from app.catalogue.models import Course, Teacher
from app.catalogue.schemas import (
    CourseCreate,
    CoursePage,
    CourseRead,
    CourseUpdate,
    TeacherCreate,
    TeacherPage,
    TeacherRead,
    TeacherUpdate,
)
from app.db import DbSession, ReadSession
from app.errors import PreconditionFailed
from app.http import API_PREFIX, IfMatch, check_if_match, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.org_unit.errors import OrgUnitNotFound, ReferencedOrgUnitNotFound
from app.pagination import PageQuery
from app.security import CurrentActor

router = APIRouter(prefix=API_PREFIX, tags=["catalogue"], route_class=IdempotentRoute)

UnitQuery = Annotated[uuid.UUID | None, Query(description="Entries of this unit or its subtree")]
ActiveQuery = Annotated[bool | None, Query(description="Only active (true) or deactivated")]


@router.get("/teachers", operation_id="listTeachers", responses=problems(OrgUnitNotFound))
async def list_teachers(
    db_session: ReadSession,
    actor: CurrentActor,
    page: PageQuery,
    org_unit_id: UnitQuery = None,
    active: ActiveQuery = None,
) -> TeacherPage:
    """The teacher catalogue (师资库) the caller may see: its subtree's units' for an
    org_admin, every unit's for admin, hr_system and auditor; none for a cadre."""
    items, next_cursor = await service.list_entries(
        db_session, Teacher, actor, page, org_unit_id=org_unit_id, active=active
    )
    return TeacherPage(
        items=[TeacherRead.model_validate(t) for t in items], next_cursor=next_cursor
    )


@router.post(
    "/teachers",
    operation_id="createTeacher",
    status_code=status.HTTP_201_CREATED,
    responses=problems(ReferencedOrgUnitNotFound, NotCatalogueManager),
)
async def create_teacher(
    body: TeacherCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> TeacherRead:
    """Add a teacher to a unit's catalogue: an org_admin for its subtree's units, an admin for
    any unit (`Idempotency-Key` accepted)."""
    teacher = await service.create_teacher(db_session, body, actor)
    set_etag(response, teacher.version)
    response.headers["Location"] = f"{API_PREFIX}/teachers/{teacher.id}"
    return TeacherRead.model_validate(teacher)


@router.get(
    "/teachers/{teacher_id}", operation_id="getTeacher", responses=problems(TeacherNotFound)
)
async def get_teacher(
    teacher_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> TeacherRead:
    """One teacher and its `ETag`; 404 outside the caller's scope."""
    teacher = await service.get_teacher(db_session, teacher_id, actor)
    set_etag(response, teacher.version)
    return TeacherRead.model_validate(teacher)


@router.patch(
    "/teachers/{teacher_id}",
    operation_id="updateTeacher",
    responses=problems(TeacherNotFound, NotCatalogueManager, PreconditionFailed),
)
async def update_teacher(
    teacher_id: uuid.UUID,
    body: TeacherUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> TeacherRead:
    """Change a teacher (`If-Match`: its ETag). Teachers are never deleted: `active: false`
    deactivates one, and session parts already naming it keep it."""
    teacher = await service.get_teacher(db_session, teacher_id, actor, for_update=True)
    check_if_match(if_match, teacher.version)
    teacher = await service.update_teacher(db_session, teacher, body, actor)
    set_etag(response, teacher.version)
    return TeacherRead.model_validate(teacher)


@router.get("/courses", operation_id="listCourses", responses=problems(OrgUnitNotFound))
async def list_courses(
    db_session: ReadSession,
    actor: CurrentActor,
    page: PageQuery,
    org_unit_id: UnitQuery = None,
    active: ActiveQuery = None,
) -> CoursePage:
    """The course catalogue (课程库) the caller may see; scope as for teachers."""
    items, next_cursor = await service.list_entries(
        db_session, Course, actor, page, org_unit_id=org_unit_id, active=active
    )
    return CoursePage(items=[CourseRead.model_validate(c) for c in items], next_cursor=next_cursor)


@router.post(
    "/courses",
    operation_id="createCourse",
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        ReferencedOrgUnitNotFound, ReferencedTeacherNotFound, NotCatalogueManager, CourseTitleTaken
    ),
)
async def create_course(
    body: CourseCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> CourseRead:
    """Add a course to a unit's catalogue; its `teacher_ids` name active catalogue teachers of
    the unit, a unit above it or below it. Who may: as for teachers."""
    course = await service.create_course(db_session, body, actor)
    set_etag(response, course.version)
    response.headers["Location"] = f"{API_PREFIX}/courses/{course.id}"
    return CourseRead.model_validate(course)


@router.get("/courses/{course_id}", operation_id="getCourse", responses=problems(CourseNotFound))
async def get_course(
    course_id: uuid.UUID, db_session: DbSession, actor: CurrentActor, response: Response
) -> CourseRead:
    """One course and its `ETag`; 404 outside the caller's scope."""
    course = await service.get_course(db_session, course_id, actor)
    set_etag(response, course.version)
    return CourseRead.model_validate(course)


@router.patch(
    "/courses/{course_id}",
    operation_id="updateCourse",
    responses=problems(
        CourseNotFound,
        NotCatalogueManager,
        ReferencedTeacherNotFound,
        PreconditionFailed,
        CourseTitleTaken,
    ),
)
async def update_course(
    course_id: uuid.UUID,
    body: CourseUpdate,
    db_session: DbSession,
    actor: CurrentActor,
    response: Response,
    if_match: IfMatch = None,
) -> CourseRead:
    """Change a course (`If-Match`: its ETag); `active: false` deactivates it (never
    deleted)."""
    course = await service.get_course(db_session, course_id, actor, for_update=True)
    check_if_match(if_match, course.version)
    course = await service.update_course(db_session, course, body, actor)
    set_etag(response, course.version)
    return CourseRead.model_validate(course)
