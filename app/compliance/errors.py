from app.errors import UnprocessableEntity


class FutureYear(UnprocessableEntity):
    code = "report.future_year"
    title = "A report covers the current year or an earlier one"
