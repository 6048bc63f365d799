from app.errors import AppError, UnprocessableEntity
from app.i18n import N_
from app.imports.schemas import MAX_ROWS


class UnsupportedMediaType(AppError):
    status = 415
    code = "import.unsupported_media_type"
    title = N_("Send application/json or text/csv")


class TooManyRows(UnprocessableEntity):
    code = "import.too_many_rows"
    title = N_("At most 50000 rows a request")


# The title names the limit: a catalogue message cannot be formatted.
assert str(MAX_ROWS) in TooManyRows.title
