from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from app.i18n import N_


class EvaluationFormNotFound(NotFound):
    code = "evaluation.form_not_found"
    title = N_("Evaluation form not found")


class NotFormManager(Forbidden):
    code = "evaluation.not_form_manager"
    title = N_("Only the unit's own administrators (or those above) may change its forms")


class InvalidIndicators(UnprocessableEntity):
    code = "evaluation.invalid_indicators"
    title = N_("A form needs at least one session indicator, and codes unique within each subject")


class ReferencedFormNotFound(UnprocessableEntity):
    code = "evaluation.form_reference_not_found"
    title = N_("The referenced form does not exist or may not be used by the session's organiser")


class FormSuperseded(Conflict):
    code = "evaluation.form_superseded"
    title = N_("A newer revision of the form exists: attach the latest revision")


class EvaluationNotFound(NotFound):
    code = "evaluation.not_found"
    title = N_("The session has no evaluation")


class EvaluationHasAnswers(Conflict):
    code = "evaluation.has_answers"
    title = N_("Trainees have answered: the form can no longer be changed")


class OpensOnOutsideSession(UnprocessableEntity):
    code = "evaluation.opens_on_outside_session"
    title = N_("An evaluation may open early only on a day of the session")


class SessionCancelled(Conflict):
    code = "evaluation.session_cancelled"
    title = N_("A cancelled session is not evaluated")


class EvaluationClosed(Conflict):
    code = "evaluation.closed"
    title = N_("The evaluation is closed")


class EvaluationNotOpen(Conflict):
    code = "evaluation.not_open"
    title = N_("The evaluation is not open for answers")


class NotTrainee(Forbidden):
    code = "evaluation.not_trainee"
    title = N_("Only the session's trainees may answer its evaluation")


class NotEligible(Conflict):
    code = "evaluation.not_eligible"
    title = N_("This enrollment may not answer the evaluation (not completed)")


class AlreadyAnswered(Conflict):
    code = "evaluation.already_answered"
    title = N_("This enrollment has already answered the evaluation")


class InvalidAnswer(UnprocessableEntity):
    code = "evaluation.invalid_answer"
    title = N_("The answer does not fit the form or the session's subjects")


class CommentsNotAllowed(UnprocessableEntity):
    code = "evaluation.comments_not_allowed"
    title = N_("The form takes no comments")


class IdempotencyKeyRefused(UnprocessableEntity):
    code = "evaluation.idempotency_key_refused"
    title = N_("An evaluation answer takes no Idempotency-Key (nothing of it may be kept)")


class OpensOnAfterClose(UnprocessableEntity):
    code = "evaluation.opens_on_after_close"
    title = N_(
        "The session is closed: its evaluation opens the day the form is attached, "
        "give no opening day"
    )


class FormChanged(Conflict):
    code = "evaluation.form_changed"
    title = N_("The session's form changed while the answer was written: answer again")
