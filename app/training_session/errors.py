from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity


class TrainingSessionNotFound(NotFound):
    code = "training_session.not_found"
    title = "Training session not found"


class InvalidStatusTransition(Conflict):
    code = "training_session.invalid_transition"
    title = "The session cannot move to that status from its current one"


class SessionImmutable(Conflict):
    code = "training_session.immutable"
    title = "A closed or cancelled session cannot be changed"


class CapacityBelowEnrolled(Conflict):
    code = "training_session.capacity_below_enrolled"
    title = "Capacity cannot go below the number of active enrollments"


class InvalidSessionDates(UnprocessableEntity):
    code = "training_session.invalid_dates"
    title = "The session's dates and days do not agree"


class NotSessionOrganiser(Forbidden):
    code = "training_session.not_organiser"
    title = "Only the organising unit's administrators may change this session"


class AlreadyClosed(Conflict):
    code = "training_session.already_closed"
    title = "The session is closed already; its study logs were issued then"


class SessionNotEnded(Conflict):
    code = "training_session.not_ended"
    title = "The session has not ended yet; it closes from its last day on"


class SessionFull(Conflict):
    code = "enrollment.session_full"
    title = "The session has no free place"
