from app.errors import Conflict, Forbidden, NotFound


class EnrollmentNotFound(NotFound):
    code = "enrollment.not_found"
    title = "Enrollment not found"


class AlreadyEnrolled(Conflict):
    code = "enrollment.already_enrolled"
    title = "The cadre is already enrolled in this session"


class SessionNotOpen(Conflict):
    code = "enrollment.session_not_open"
    title = "The session does not take enrollments in its current status"


class CadreInactive(Conflict):
    code = "enrollment.cadre_inactive"
    title = "An inactive cadre cannot be enrolled"


class InvalidEnrollmentTransition(Conflict):
    code = "enrollment.invalid_transition"
    title = "The enrollment cannot move to that status from its current one"


class EnrollmentFinal(Conflict):
    code = "enrollment.final"
    title = "The enrollment's session is closed; the enrollment can no longer change"


class LeaveExceedsSession(Conflict):
    code = "enrollment.leave_exceeds_session"
    title = "Leave hours cannot exceed the session's credit hours"


class LeaveExceptionForbidden(Forbidden):
    code = "enrollment.leave_exception_forbidden"
    title = "Only an admin or an administrator of the organising unit may grant a leave exception"
