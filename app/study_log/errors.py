from app.errors import Conflict, NotFound, ProblemFieldError, UnprocessableEntity
from app.i18n import N_


class StudyLogNotFound(NotFound):
    code = "study_log.not_found"
    title = N_("Study log not found")


class IdempotencyConflict(Conflict):
    code = "study_log.idempotency_conflict"
    title = N_("A study log with this id exists with a different body")


class InvalidReviewTransition(Conflict):
    code = "study_log.invalid_transition"
    title = N_("The study log cannot take that review step from its current status")


class StudyLogEndsInFuture(UnprocessableEntity):
    code = "study_log.ends_in_future"
    title = N_("A study log may not end after today (Asia/Shanghai)")

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail,
            errors=[ProblemFieldError(pointer="/body/end_date", detail=detail, code=self.code)],
        )
