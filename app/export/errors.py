"""export domain."""

from app.errors import AppError, Conflict, NotFound
from app.i18n import N_


class ExportNotFound(NotFound):
    code = "export.not_found"
    title = N_("Export job not found")


class ExportNotReady(Conflict):
    code = "export.not_ready"
    title = N_("The export job has not finished its file")


class ExportFailed(Conflict):
    code = "export.failed"
    title = N_("The export job failed; its file does not exist")


class ExportExpired(AppError):
    status = 410
    code = "export.expired"
    title = N_("The export job and its file have expired")


class TooManyExports(AppError):
    status = 429
    code = "export.too_many_active"
    title = N_("Too many export jobs are queued or running for this user")


class RangeNotSatisfiable(AppError):
    status = 416
    code = "export.range_not_satisfiable"
    title = N_("The requested range is outside the file")
