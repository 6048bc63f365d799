from app.errors import Conflict, UnprocessableEntity
from app.i18n import N_


class KeyReused(UnprocessableEntity):
    code = "idempotency.key_reused"
    title = N_("This Idempotency-Key was used with a different request")


class StillRunning(Conflict):
    code = "idempotency.in_progress"
    title = N_("A request with this Idempotency-Key is still running; retry shortly")


class AnswerUnreadable(Conflict):
    code = "idempotency.answer_unreadable"
    title = N_(
        "The first request with this Idempotency-Key succeeded, but its stored answer cannot be "
        "read (the data key changed): look the result up instead of sending it again"
    )


class BadKey(UnprocessableEntity):
    code = "idempotency.bad_key"
    title = N_("The Idempotency-Key is 1 to 200 printable ASCII characters")


class RightsChanged(Conflict):
    code = "idempotency.rights_changed"
    title = N_(
        "The first request with this Idempotency-Key succeeded, but it was made with other "
        "rights (another role, unit or cadre) than the caller has now: its answer is not given "
        "again; look the result up instead of sending it again"
    )
