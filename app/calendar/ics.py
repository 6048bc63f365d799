"""iCalendar files (RFC 5545) of training sessions, written with the `icalendar` library: pure,
no I/O (docs/calendars.md).

Times: a class part's start and end are local wall-clock times in Asia/Shanghai, so they are
written as such (`DTSTART;TZID=Asia/Shanghai:...`) with the zone's VTIMEZONE in the file: a
phone shows 08:00 whatever zone it is in, and an edit of the part's local time never needs a
conversion. China keeps no daylight time since 1991, so the VTIMEZONE is one fixed offset
(+08:00), from 2000 on. A session without parts is one all-day event (`VALUE=DATE`), its DTEND
the day after its last day (RFC 5545 §3.6.1: the end is exclusive).

Each file is the same bytes for the same data (DTSTAMP is the session's last change, not the
time of the request), so its ETag is a hash of it and a calendar that polls is answered 304."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from icalendar import Calendar, Event
from icalendar.enums import STATUS

from app.clock import LOCAL_TZ
from app.enum_labels import label
from app.enums import DayPeriod, Language, SessionStatus
from app.i18n import N_, gettext

PRODID = "-//Cadre training records service//Calendar//ZH"
# How often a subscribed calendar should fetch the feed again (RFC 7986 REFRESH-INTERVAL and
# the older X-PUBLISHED-TTL): changes reach phones within the hour.
REFRESH_INTERVAL = timedelta(hours=1)  # X-PUBLISHED-TTL: PT1H
# The zone's history since then is one offset: a short VTIMEZONE, unless a class is older (the
# zone then starts on the file's first class day, with the offsets of its time: LMT before
# 1901, the daylight time of 1919-1991); and it runs to icalendar's default end, or the last
# class day when later.
_TZ_SINCE = date(2000, 1, 1)
_TZ_UNTIL = date(2038, 1, 1)


@dataclass(frozen=True)
class PartFacts:
    """A class part (课次) as a calendar shows it."""

    id: uuid.UUID
    part_date: date
    period: DayPeriod
    start_time: time
    end_time: time
    credit_hours: Decimal
    course_title: str | None
    teacher_name: str | None


@dataclass(frozen=True)
class SessionFacts:
    """A training session as a calendar shows it: the session's own facts, nothing personal."""

    id: uuid.UUID
    title: str
    status: SessionStatus
    version: int
    updated_at: datetime
    start_date: date
    end_date: date
    credit_hours: Decimal
    provider: str | None
    organiser_name: str
    parts: tuple[PartFacts, ...]


def _line(message: str, lang: Language, **values: object) -> str:
    return gettext(message, lang.value).format(**values)


def _description(s: SessionFacts, lang: Language, part: PartFacts | None) -> str:
    lines = []
    if part is not None and part.teacher_name:
        lines.append(_line(N_("Teacher: {name}"), lang, name=part.teacher_name))
    hours = part.credit_hours if part is not None else s.credit_hours
    lines.append(_line(N_("Credit hours: {hours}"), lang, hours=format(hours.normalize(), "f")))
    lines.append(_line(N_("Organiser: {name}"), lang, name=s.organiser_name))
    if s.provider:
        lines.append(_line(N_("Provider: {name}"), lang, name=s.provider))
    if s.status == SessionStatus.cancelled:
        lines.append(gettext(N_("This class is cancelled."), lang.value))
    return "\n".join(lines)


def _event(s: SessionFacts, uid: str, summary: str, description: str) -> Event:
    stamp = s.updated_at.astimezone(UTC)
    event = Event.new(
        uid=uid,
        summary=summary,
        description=description,
        sequence=s.version,
        stamp=stamp,
        last_modified=stamp,
        status=_STATUS[s.status],
    )
    return event


def _zone_span(sessions: list[SessionFacts]) -> tuple[date, date]:
    """The dates the VTIMEZONE must cover: every timed event's day (parts have times)."""
    days = [part.part_date for s in sessions for part in s.parts]
    return min([_TZ_SINCE, *days]), max([_TZ_UNTIL, *(d + timedelta(days=1) for d in days)])


_STATUS = {
    SessionStatus.draft: STATUS.TENTATIVE,
    SessionStatus.open: STATUS.CONFIRMED,
    SessionStatus.running: STATUS.CONFIRMED,
    SessionStatus.closed: STATUS.CONFIRMED,
    SessionStatus.cancelled: STATUS.CANCELLED,
}


def session_events(s: SessionFacts, lang: Language, uid_domain: str) -> list[Event]:
    """One event per class part, or one all-day event over the session's days."""
    if not s.parts:
        event = _event(s, f"{s.id}@{uid_domain}", s.title, _description(s, lang, None))
        event.start = s.start_date
        event.end = s.end_date + timedelta(days=1)
        return [event]
    events = []
    for part in s.parts:
        what = part.course_title or label(part.period, lang.value)
        event = _event(
            s, f"{part.id}@{uid_domain}", f"{s.title} · {what}", _description(s, lang, part)
        )
        event.start = datetime.combine(part.part_date, part.start_time, LOCAL_TZ)
        event.end = datetime.combine(part.part_date, part.end_time, LOCAL_TZ)
        events.append(event)
    return events


def render(
    name: str,
    calendar_uid: str,
    sessions: list[SessionFacts],
    lang: Language,
    uid_domain: str,
) -> bytes:
    """A VCALENDAR (METHOD:PUBLISH) of the sessions' events, named `name` (X-WR-CALNAME)."""
    calendar = Calendar.new(
        prodid=PRODID,
        method="PUBLISH",
        name=name,
        uid=calendar_uid,
        language=lang.value,
    )
    # RFC 7986 §5.7: the value type is not the property's default, so it is named.
    calendar.add("REFRESH-INTERVAL", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", "PT1H")
    for s in sessions:
        for event in session_events(s, lang, uid_domain):
            calendar.add_component(event)
    first_date, last_date = _zone_span(sessions)
    calendar.add_missing_timezones(first_date=first_date, last_date=last_date)
    body: bytes = calendar.to_ical()
    return body


def entity_tag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'
