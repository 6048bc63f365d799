"""The study-log rules shared by every path that writes logs: POST and PUT of one log, the bulk
import, and a session's closing. Pure functions: "today" is an argument (the callers take it from
`app.clock.local_today()`)."""

from datetime import date

from app.i18n import _


class EndsInFuture(ValueError):
    """docs/rules.md rule 10: a study log may not end after the current local date."""

    code = "study_log.ends_in_future"


def check_not_in_future(end_date: date, today: date) -> None:
    """docs/rules.md rule 10: a log records what happened, so it ends today at the latest
    (`today` is the local date in Asia/Shanghai). Ending today is fine; tomorrow is refused."""
    if end_date > today:
        raise EndsInFuture(
            _("ends on {end}, after today ({today}, Asia/Shanghai)").format(
                end=end_date, today=today
            )
        )
