from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from app.i18n import N_


class TrainingSessionNotFound(NotFound):
    code = "training_session.not_found"
    title = N_("Training session not found")


class InvalidStatusTransition(Conflict):
    code = "training_session.invalid_transition"
    title = N_("The session cannot move to that status from its current one")


class SessionImmutable(Conflict):
    code = "training_session.immutable"
    title = N_("A closed or cancelled session cannot be changed")


class CapacityBelowEnrolled(Conflict):
    code = "training_session.capacity_below_enrolled"
    title = N_("Capacity cannot go below the number of active enrollments")


class InvalidSessionDates(UnprocessableEntity):
    code = "training_session.invalid_dates"
    title = N_("The session's dates and days do not agree")


class NotSessionOrganiser(Forbidden):
    code = "training_session.not_organiser"
    title = N_("Only the organising unit's administrators may change this session")


class AlreadyClosed(Conflict):
    code = "training_session.already_closed"
    title = N_("The session is closed already; its study logs were issued then")


class SessionNotEnded(Conflict):
    code = "training_session.not_ended"
    title = N_("The session has not ended yet; it closes from its last day on")


class SessionFull(Conflict):
    code = "enrollment.session_full"
    title = N_("The session has no free place")


class QuotasExceedCapacity(Conflict):
    code = "training_session.quotas_exceed_capacity"
    title = N_("The audience's seat quotas add up to more than the session's capacity")


class QuotaBelowSeats(Conflict):
    code = "training_session.quota_below_seats"
    title = N_("A unit's seat quota cannot go below the seats its cadres hold")


class AudienceUnitOutOfReach(UnprocessableEntity):
    code = "training_session.audience_out_of_reach"
    title = N_("An audience unit must lie in the default audience's subtree or in your scope")


class SessionPartNotFound(NotFound):
    code = "training_session.part_not_found"
    title = N_("Session part not found")


class PartsHoursMismatch(UnprocessableEntity):
    code = "training_session.parts_hours_mismatch"
    title = N_("The parts' credit hours must add up to the session's credit hours")


class PartOutsideDates(UnprocessableEntity):
    code = "training_session.part_outside_dates"
    title = N_("A part's date must lie within the session's dates")


class PartHasAttendance(Conflict):
    code = "training_session.part_has_attendance"
    title = N_("A part with attendance marks cannot be removed")
