"""Calendars of training sessions (docs/calendars.md): a session's file for whoever may read it,
and a cadre's private feed at a revocable secret address."""

import hashlib
import hmac
import re
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.actor import Actor
from app.cadre import repository as cadre_repository
from app.cadre.errors import CadreNotFound
from app.calendar import ics, repository
from app.calendar.errors import CalendarFeedNotFound
from app.calendar.models import CalendarFeed
from app.enums import Language
from app.i18n import N_, gettext
from app.training_session.errors import TrainingSessionNotFound

# The feed's window around today (local date): a year of past classes, two years ahead.
FEED_PAST = timedelta(days=365)
FEED_AHEAD = timedelta(days=731)
# secrets.token_urlsafe(32): 256 random bits as 43 base64url characters.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def session_calendar(
    db_session: AsyncSession,
    training_session_id: uuid.UUID,
    actor: Actor,
    lang: Language,
    uid_domain: str,
) -> tuple[str, bytes]:
    """The session's title and its calendar file; 404 unless the actor may read the session
    or is its trainee."""
    found = await repository.readable_session_id(db_session, training_session_id, actor)
    if found is None:
        raise TrainingSessionNotFound()
    (facts,) = await repository.facts(db_session, [found])
    body = ics.render(facts.title, f"session-{facts.id}@{uid_domain}", [facts], lang, uid_domain)
    return facts.title, body


def _own_cadre(actor: Actor) -> uuid.UUID:
    if actor.cadre_id is None:
        raise CadreNotFound()
    return actor.cadre_id


async def feed_status(db_session: AsyncSession, actor: Actor) -> CalendarFeed | None:
    return await repository.feed_of(db_session, _own_cadre(actor))


async def issue_feed(db_session: AsyncSession, actor: Actor) -> tuple[str, datetime]:
    """Create the cadre's feed, or rotate its token: the old address stops at once. Returns the
    new token (never stored: only its hash is) and when it was issued."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    await repository.upsert_feed(db_session, _own_cadre(actor), _hash(token), now)
    return token, now


async def revoke_feed(db_session: AsyncSession, actor: Actor) -> None:
    feed = await repository.feed_of(db_session, _own_cadre(actor), for_update=True)
    if feed is None:
        raise CalendarFeedNotFound()
    await repository.delete_feed(db_session, feed)


async def revoke_cadre_feed(db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor) -> None:
    """An administrator revokes a cadre's feed (a lost phone reported to the unit, a cadre who
    left): 404 `cadre.not_found` outside the actor's scope, `calendar.feed_not_found` when the
    cadre has none."""
    if not await cadre_repository.is_readable(db_session, cadre_id, actor):
        raise CadreNotFound()
    feed = await repository.feed_of(db_session, cadre_id, for_update=True)
    if feed is None:
        raise CalendarFeedNotFound()
    await repository.delete_feed(db_session, feed)


async def feed_calendar(
    db_session: AsyncSession, token: str, lang: Language, uid_domain: str
) -> bytes:
    """The feed of the token's cadre: its sessions within the window, each as in the session's
    own file. Unknown, malformed, rotated and revoked tokens are one 404."""
    if not _TOKEN.fullmatch(token):
        raise CalendarFeedNotFound()
    digest = _hash(token)
    # Found by the hash's unique index: the lookup's timing depends on the hash, which a guesser
    # cannot steer; the comparison after it takes constant time.
    feed = await repository.feed_by_hash(db_session, digest)
    if feed is None or not hmac.compare_digest(feed.token_hash, digest):
        raise CalendarFeedNotFound()
    await repository.mark_used(db_session, feed.id)
    today = clock.local_today()
    ids = await repository.session_ids_of_cadre(
        db_session, feed.cadre_id, today - FEED_PAST, today + FEED_AHEAD
    )
    sessions = await repository.facts(db_session, ids)
    name = gettext(N_("My training"), lang.value)
    return ics.render(name, f"feed-{feed.id}@{uid_domain}", sessions, lang, uid_domain)
