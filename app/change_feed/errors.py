from app.errors import AppError
from app.i18n import N_


class CursorExpired(AppError):
    status = 410
    code = "changes.cursor_expired"
    title = N_("The cursor is older than the feed's retention; start again without one")
