"""Reading the outbox by cursor. It is written by the database: the audit trigger of every table
the feed carries (migration 0013) adds each change's event in the same transaction.
`CursorExpired` and `Position` are re-exported: the webhook worker follows the feed through
this module."""

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.change_feed import repository
from app.change_feed.errors import CursorExpired as CursorExpired
from app.change_feed.models import ChangeEvent
from app.change_feed.repository import Position as Position
from app.enums import FeedEntity
from app.errors import ProblemFieldError, UnprocessableEntity
from app.i18n import N_

# What the HR system follows: training records and what decides compliance.
FEED_ENTITIES = frozenset(e.value for e in FeedEntity)

# Before the first event.
START: Position = (-1, -1)
# Both parts are bigint columns (change_event.xid, .id): a cursor past them is none we returned.
_BIGINT_MAX = 2**63 - 1


def encode_cursor(xid: int, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{xid}:{event_id}".encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        xid, event_id = (int(part) for part in raw.split(":"))
        if not (START[0] <= xid <= _BIGINT_MAX and START[1] <= event_id <= _BIGINT_MAX):
            raise ValueError("out of range")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise UnprocessableEntity(
            N_("The cursor is not one this feed returned."),
            errors=[
                ProblemFieldError(
                    pointer="/query/cursor", detail=N_("invalid cursor"), code="invalid_cursor"
                )
            ],
        ) from exc
    return xid, event_id


async def read_after(
    db_session: AsyncSession, position: Position, limit: int, *, until: Position | None = None
) -> Sequence[ChangeEvent]:
    """Events after `position` (up to `until`, inclusive, when given) in (transaction, event)
    order, never one of a transaction that could still be followed by an earlier one committing.
    Every reader of the feed goes through here: the API's pollers and the webhook worker."""
    pruned = await repository.pruned_through(db_session)
    if pruned is not None and position < pruned:
        raise CursorExpired()
    return await repository.settled_after(db_session, position, limit, until=until)


async def read(
    db_session: AsyncSession, cursor: str | None, limit: int
) -> tuple[Sequence[ChangeEvent], str | None]:
    """A page of events after `cursor` (see `read_after`); without one, from the oldest event
    the feed still keeps, so a new follower can start after a prune (an old cursor is still
    410). The next cursor is returned even on an empty page, so a poller keeps its place."""
    if cursor:
        position = decode_cursor(cursor)
    else:
        position = await repository.pruned_through(db_session) or START
    events = await read_after(db_session, position, limit)
    if events:
        return events, encode_cursor(events[-1].xid, events[-1].id)
    return events, cursor or encode_cursor(*position)


async def end_position(db_session: AsyncSession) -> Position:
    """Where a new follower starts so that it gets every change from now on: after the last
    settled event. A transaction still running has an id at or above the settled bound, so its
    events come after this position whenever it commits; so may some that committed just
    before (behind a still-running older one): at least once, never fewer."""
    last = await repository.last_settled(db_session)
    pruned = await repository.pruned_through(db_session)
    return max(pruned or START, last or START)


async def prune(db_session: AsyncSession, retention_days: int) -> int:
    """Delete events older than the retention and remember how far: older cursors get 410."""
    cutoff = datetime.now(UTC) - timedelta(days=retention_days)
    last = await repository.last_settled(db_session, before=cutoff)
    if last is None:
        return 0
    return await repository.prune_through(db_session, last)
