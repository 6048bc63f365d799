from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from app.i18n import N_


class SignInCodeMalformed(UnprocessableEntity):
    code = "attendance.code_malformed"
    title = N_("This is not a sign-in code")


class SignInCodeExpired(UnprocessableEntity):
    code = "attendance.code_expired"
    title = N_("The sign-in code has expired; scan the code on the screen again")


class SignInCodeForged(Forbidden):
    code = "attendance.code_forged"
    title = N_("The sign-in code was not issued by this service")


class OutsideWindow(Conflict):
    code = "attendance.outside_window"
    title = N_("Sign-in is open only inside the part's time window")


class AlreadySignedIn(Conflict):
    code = "attendance.already_signed_in"
    title = N_("This enrollment already has a mark for the part")


class NotEnrolled(Conflict):
    code = "attendance.not_enrolled"
    title = N_("The caller has no active enrollment in the part's session")


class DeviceIdRequired(UnprocessableEntity):
    code = "attendance.device_id_required"
    title = N_("A QR sign-in sends its device id in the X-Device-ID header")


class LeaveRequestNotFound(NotFound):
    code = "attendance.leave_request_not_found"
    title = N_("Leave request not found")


class LeaveRequestDecided(Conflict):
    code = "attendance.leave_request_decided"
    title = N_("The leave request has been decided already")


class PartNotOfSession(UnprocessableEntity):
    code = "attendance.part_not_of_session"
    title = N_("The part does not belong to the enrollment's session")


class SessionNotInProgress(Conflict):
    code = "attendance.session_final"
    title = N_("Attendance of a closed or cancelled session cannot change")
