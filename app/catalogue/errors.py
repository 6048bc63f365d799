from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from app.i18n import N_


class CourseNotFound(NotFound):
    code = "catalogue.course_not_found"
    title = N_("Course not found")


class TeacherNotFound(NotFound):
    code = "catalogue.teacher_not_found"
    title = N_("Teacher not found")


class NotCatalogueManager(Forbidden):
    code = "catalogue.not_manager"
    title = N_("Only the unit's own administrators (or those above) may change its catalogue")


class ReferencedCourseNotFound(UnprocessableEntity):
    code = "catalogue.course_reference_not_found"
    title = N_("The referenced course does not exist or may not be used here")


class ReferencedTeacherNotFound(UnprocessableEntity):
    code = "catalogue.teacher_reference_not_found"
    title = N_("The referenced teacher does not exist or may not be used here")


class CourseTitleTaken(Conflict):
    code = "catalogue.course_title_taken"
    title = N_("The unit's catalogue already has an active course of this title")
