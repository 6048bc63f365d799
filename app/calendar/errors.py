from app.errors import NotFound
from app.i18n import N_


class CalendarFeedNotFound(NotFound):
    """An unknown, malformed, rotated or revoked feed token: one answer for all of them, so a
    guesser learns nothing."""

    code = "calendar.feed_not_found"
    title = N_("Calendar feed not found")
