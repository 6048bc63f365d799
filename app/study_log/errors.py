from app.errors import Conflict, NotFound


class StudyLogNotFound(NotFound):
    code = "study_log.not_found"
    title = "Study log not found"


class IdempotencyConflict(Conflict):
    code = "study_log.idempotency_conflict"
    title = "A study log with this id exists with a different body"


class InvalidReviewTransition(Conflict):
    code = "study_log.invalid_transition"
    title = "The study log cannot take that review step from its current status"
