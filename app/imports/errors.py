from app.errors import AppError, UnprocessableEntity
from app.imports.schemas import MAX_ROWS


class UnsupportedMediaType(AppError):
    status = 415
    code = "import.unsupported_media_type"
    title = "Send application/json or text/csv"


class TooManyRows(UnprocessableEntity):
    code = "import.too_many_rows"
    title = f"At most {MAX_ROWS} rows a request"
