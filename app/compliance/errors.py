from app.errors import UnprocessableEntity
from app.i18n import N_


class FutureYear(UnprocessableEntity):
    code = "report.future_year"
    title = N_("A report covers the current year or an earlier one")
