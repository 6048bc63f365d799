from app.errors import AppError


class CursorExpired(AppError):
    status = 410
    code = "changes.cursor_expired"
    title = "The cursor is older than the feed's retention; start again without one"
