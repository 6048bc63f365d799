"""The title and body of a notification, in the request's language, from its kind and params
(the stored snapshot): written once in English, translated in messages.po."""

from collections.abc import Callable, Mapping
from typing import Any

from app.enum_labels import label
from app.enums import NotificationKind, Requirement
from app.i18n import N_, _

_TITLES: Mapping[NotificationKind, str] = {
    NotificationKind.nominated: N_("Nominated for {session_title}"),
    NotificationKind.waitlisted: N_("On the waitlist of {session_title}"),
    NotificationKind.promoted_from_waitlist: N_("A place for you in {session_title}"),
    NotificationKind.session_changed: N_("{session_title} has changed"),
    NotificationKind.session_cancelled: N_("{session_title} is cancelled"),
    NotificationKind.session_starting: N_("{session_title} starts on {start_date}"),
    NotificationKind.evaluation_opened: N_("Evaluate {session_title}"),
    NotificationKind.requirement_at_risk: N_("Your {requirement} requirement is at risk"),
    NotificationKind.qualification_expiring: N_("{qualification_name} expires on {valid_until}"),
}

_BODIES: Mapping[NotificationKind, str] = {
    NotificationKind.nominated: N_(
        "Your unit nominated you for {session_title} ({start_date} to {end_date}); the "
        "organiser reviews the nomination."
    ),
    NotificationKind.waitlisted: N_(
        "{session_title} ({start_date} to {end_date}) is full: you are number "
        "{waitlist_position} on its waitlist."
    ),
    NotificationKind.promoted_from_waitlist: N_(
        "A seat came free: you moved from the waitlist into {session_title} ({start_date} to "
        "{end_date})."
    ),
    NotificationKind.session_changed: N_(
        "{session_title} changed its days or classes: it now runs from {start_date} to "
        "{end_date}. See the session for its timetable."
    ),
    NotificationKind.session_cancelled: N_(
        "{session_title} ({start_date} to {end_date}) is cancelled."
    ),
    NotificationKind.session_starting: N_(
        "{session_title} starts in {days_before} days, on {start_date}, and ends on {end_date}."
    ),
    NotificationKind.evaluation_opened: N_(
        "The anonymous evaluation of {session_title} is open until {closes_on}."
    ),
    NotificationKind.requirement_at_risk: N_(
        "On {evaluated_on}: {days_done} of {days_required} days, or {hours_done} of "
        "{hours_required} hours. Plan your training in time."
    ),
    NotificationKind.qualification_expiring: N_(
        "{qualification_name} is valid until {valid_until}: renew it in time."
    ),
}


def _requirement(params: Mapping[str, Any]) -> str:
    return label(Requirement(params["requirement"]))


# Values shown otherwise than as stored.
_SHOWN: Mapping[str, Callable[[Mapping[str, Any]], str]] = {"requirement": _requirement}


def render(kind: NotificationKind, params: Mapping[str, Any]) -> tuple[str, str]:
    """(title, body) in the current request's language."""
    values = {key: ("—" if value is None else value) for key, value in params.items()}
    for key, show in _SHOWN.items():
        if key in params:
            values[key] = show(params)
    return _(_TITLES[kind]).format(**values), _(_BODIES[kind]).format(**values)
