import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from app.auth.client_address import client_address
from app.auth.rate_limit import RateLimited, RateLimiter
from app.cadre.errors import CadreNotFound
from app.calendar import ics, service
from app.calendar.errors import CalendarFeedNotFound
from app.calendar.schemas import CalendarFeedCreated, CalendarFeedStatus
from app.db import DbSession
from app.documents.spreadsheet import content_disposition
from app.enums import Language
from app.http import API_PREFIX, AppSettings, problems
from app.security import CurrentActor
from app.training_session.errors import TrainingSessionNotFound

router = APIRouter(prefix=API_PREFIX, tags=["calendars"])
# Public: no token (registered beside the certificate check in app.main). The secret is the
# address itself.
feed_router = APIRouter(prefix=f"{API_PREFIX}/calendar-feeds", tags=["calendars"])

MEDIA_TYPE = "text/calendar; charset=utf-8"
_STR = {"type": "string"}

LangQuery = Annotated[
    Language,
    Query(
        description="The language of the calendar's fixed words (授课教师, 学时, 主办 ...): zh-CN "
        "(default) or en; titles, courses and names stay as written"
    ),
]
# Any text up to the bound: a token of the wrong shape is 404 like an unknown one (the service
# checks its shape before asking the database), so the answer tells nothing about the format.
FeedToken = Annotated[
    str, Path(max_length=100, description="The feed's secret, as `POST /me/calendar-feed` gave it")
]
IfNoneMatch = Annotated[
    str | None,
    Header(max_length=200, description="The `ETag` of the file already held; 304 if unchanged"),
]


def _calendar_responses(what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": what,
            "headers": {
                "ETag": {"description": "Send it back as `If-None-Match`", "schema": _STR},
            },
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        },
        304: {"description": "Not modified: the file named by `If-None-Match` is current"},
    }


def _answer(body: bytes, if_none_match: str | None, headers: dict[str, str]) -> Response:
    tag = ics.entity_tag(body)
    headers = {"ETag": tag, **headers}
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        if "*" in tags or tag in tags:
            return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)


@router.get(
    "/training-sessions/{training_session_id}/calendar.ics",
    operation_id="getSessionCalendar",
    response_class=Response,
    responses={
        **_calendar_responses(
            "The session as an iCalendar file (RFC 5545, METHOD:PUBLISH): one event per class "
            "part, or one all-day event over its days when it has none"
        ),
        **problems(TrainingSessionNotFound),
    },
)
async def get_session_calendar(
    training_session_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    lang: LangQuery = Language.zh_cn,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A session's calendar file, to open in a calendar app: one event per class part at its
    local start and end times (Asia/Shanghai, with the zone's VTIMEZONE), titled with the
    session and the part's course, the teacher in the description; a session without parts is
    one all-day event over its days. Events keep their UID (`<part id>@<domain>`), and their
    SEQUENCE is the session's version, so an edit updates the event a calendar holds; a cancelled
    session's events are `STATUS:CANCELLED`. For whoever may read the session, and its
    trainees; 404 otherwise. Cacheable: send the `ETag` back as `If-None-Match`."""
    domain = settings.calendar.uid_domain
    title, body = await service.session_calendar(
        db_session, training_session_id, actor, lang, domain
    )
    headers = {
        "Content-Disposition": content_disposition(f"{title}.ics"),
        "Content-Language": lang.value,
    }
    return _answer(body, if_none_match, headers)


@router.get(
    "/me/calendar-feed",
    operation_id="getCalendarFeed",
    response_model=CalendarFeedStatus,
    responses=problems(CadreNotFound),
)
async def get_calendar_feed(db_session: DbSession, actor: CurrentActor) -> CalendarFeedStatus:
    """Whether the caller (a cadre) has a private calendar feed, when its address was made and
    when a calendar last fetched it. The address itself is never shown again: rotate it
    (`POST`) to get a new one."""
    feed = await service.feed_status(db_session, actor)
    if feed is None:
        return CalendarFeedStatus(active=False, issued_at=None, last_used_at=None)
    return CalendarFeedStatus(active=True, issued_at=feed.issued_at, last_used_at=feed.last_used_at)


@router.post(
    "/me/calendar-feed",
    operation_id="createCalendarFeed",
    status_code=201,
    response_model=CalendarFeedCreated,
    responses=problems(CadreNotFound),
)
async def create_calendar_feed(
    db_session: DbSession, actor: CurrentActor, settings: AppSettings
) -> CalendarFeedCreated:
    """Create the caller's private calendar feed, or rotate it: a new secret address (256
    random bits), answered this once — only a hash of it is kept. A previous address stops
    working at once. Subscribe to it in a phone's calendar (docs/calendars.md). Sent twice, it
    rotates twice: the later address is the one that works."""
    token, issued_at = await service.issue_feed(db_session, actor)
    url = settings.calendar.feed_url.replace("{token}", token)
    return CalendarFeedCreated(url=url, issued_at=issued_at)


@router.delete(
    "/me/calendar-feed",
    operation_id="deleteCalendarFeed",
    status_code=204,
    response_class=Response,
    responses=problems(CadreNotFound, CalendarFeedNotFound),
)
async def delete_calendar_feed(db_session: DbSession, actor: CurrentActor) -> Response:
    """Revoke the caller's private feed: its address answers 404 from now on. 404 when there
    is none."""
    await service.revoke_feed(db_session, actor)
    return Response(status_code=204)


@router.delete(
    "/cadres/{cadre_id}/calendar-feed",
    operation_id="revokeCadreCalendarFeed",
    status_code=204,
    response_class=Response,
    responses=problems(CadreNotFound, CalendarFeedNotFound),
)
async def revoke_cadre_calendar_feed(
    cadre_id: uuid.UUID, db_session: DbSession, actor: CurrentActor
) -> Response:
    """Revoke a cadre's private calendar feed for it (a lost phone reported to the unit, a
    cadre who left): its address answers 404 from now on; the cadre may make a new one. For an
    `admin`, or an `org_admin` for the cadres of its subtree; 404 `cadre.not_found` for a cadre
    outside the caller's scope, `calendar.feed_not_found` when the cadre has none."""
    await service.revoke_cadre_feed(db_session, cadre_id, actor)
    return Response(status_code=204)


@feed_router.get(
    "/{token}.ics",
    operation_id="getCalendarFeedFile",
    response_class=Response,
    responses={
        **_calendar_responses(
            "The cadre's classes as an iCalendar feed (RFC 5545, METHOD:PUBLISH), a year back "
            "and two years ahead"
        ),
        **problems(CalendarFeedNotFound, RateLimited),
    },
)
async def get_calendar_feed_file(
    token: FeedToken,
    request: Request,
    db_session: DbSession,
    settings: AppSettings,
    lang: LangQuery = Language.zh_cn,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A cadre's private calendar feed, for a phone's calendar to subscribe to: no sign-in, the
    secret address is the key (made by `POST /api/v1/me/calendar-feed`). It holds the classes
    the cadre is enrolled in, confirmed for or completed, from a year back to two years ahead,
    each as in the session's own file, and nothing personal beyond them. An unknown, rotated or
    revoked address is 404, all alike. Every client address is rate-limited here
    (`APP_RATE_LIMIT__CALENDAR_FEED_PER_MINUTE`), apart from sign-ins. `no-store`, as every
    answer: proxies and browsers keep no copy of a personal schedule; a calendar app that keeps
    the `ETag` and sends it as `If-None-Match` is answered 304 when nothing changed."""
    limiter: RateLimiter = request.app.state.calendar_feed_limiter
    limiter.check(f"ip:{client_address(request, settings.trusted_proxies)}")
    body = await service.feed_calendar(db_session, token, lang, settings.calendar.uid_domain)
    return _answer(body, if_none_match, {"Content-Language": lang.value})
