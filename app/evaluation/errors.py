from app.errors import NotFound
from app.i18n import N_


class EvaluationNotAttached(NotFound):
    code = "evaluation.not_attached"
    title = N_("The session has no evaluation form attached")
