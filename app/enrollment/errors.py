from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from app.i18n import N_


class EnrollmentNotFound(NotFound):
    code = "enrollment.not_found"
    title = N_("Enrollment not found")


class AlreadyEnrolled(Conflict):
    code = "enrollment.already_enrolled"
    title = N_("The cadre is already enrolled in this session")


class SessionNotOpen(Conflict):
    code = "enrollment.session_not_open"
    title = N_("The session does not take enrollments in its current status")


class CadreInactive(Conflict):
    code = "enrollment.cadre_inactive"
    title = N_("An inactive cadre cannot be enrolled")


class InvalidEnrollmentTransition(Conflict):
    code = "enrollment.invalid_transition"
    title = N_("The enrollment cannot move to that status from its current one")


class EnrollmentFinal(Conflict):
    code = "enrollment.final"
    title = N_("The enrollment's session is closed; the enrollment can no longer change")


class LeaveExceedsSession(Conflict):
    code = "enrollment.leave_exceeds_session"
    title = N_("Leave hours cannot exceed the session's credit hours")


class LeaveExceptionForbidden(Forbidden):
    code = "enrollment.leave_exception_forbidden"
    title = N_(
        "Only an admin or an administrator of the organising unit may grant a leave exception"
    )


class QuotaReached(Conflict):
    code = "enrollment.quota_reached"
    title = N_("The unit's seat quota for this session is taken")


class OutsideAudience(Conflict):
    code = "enrollment.outside_audience"
    title = N_("The cadre's unit is not in the session's audience")


class SelfEnrollmentOff(Conflict):
    code = "enrollment.self_enrollment_off"
    title = N_("The organiser has turned self-enrollment off for this session")


class NominationForbidden(Forbidden):
    code = "enrollment.nomination_forbidden"
    title = N_("Only an org unit's administrator (or an admin) nominates cadres")


class NotReplaceable(Conflict):
    code = "enrollment.not_replaceable"
    title = N_(
        "Only a nomination of the same session whose substitute was asked for can be replaced"
    )


class LeaveOverrideReasonRequired(UnprocessableEntity):
    code = "enrollment.leave_override_reason_required"
    title = N_(
        "In a session with parts leave is computed from attendance; typing it needs a reason"
    )


class LeaveOverrideHoursRequired(UnprocessableEntity):
    code = "enrollment.leave_override_hours_required"
    title = N_("An override of the computed leave gives its leave_hours in the same request")


class AttendanceIncomplete(Conflict):
    code = "training_session.attendance_incomplete"
    title = N_("Some parts have enrollments without an attendance mark")
