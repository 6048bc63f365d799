"""Reading the outbox by cursor. It is written by the database: the audit trigger of every table
the feed carries (migration 0013) adds each change's event in the same transaction."""

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnClause, delete, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.change_feed.models import ChangeEvent, ChangeFeedState
from app.enums import FeedEntity
from app.errors import AppError, ProblemFieldError, UnprocessableEntity

# What the HR system follows: training records and what decides compliance.
FEED_ENTITIES = frozenset(e.value for e in FeedEntity)

# A place in the feed: (transaction id, event id) of the last event read.
Position = tuple[int, int]
START: Position = (-1, -1)

# Every transaction that began before the oldest one still running has finished.
_SETTLED_BELOW: ColumnClause[int] = literal_column(
    "(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint", type_=BigInteger
)


class CursorExpired(AppError):
    status = 410
    code = "changes.cursor_expired"
    title = "The cursor is older than the feed's retention; start again without one"


def encode_cursor(xid: int, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{xid}:{event_id}".encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        xid, event_id = (int(part) for part in raw.split(":"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise UnprocessableEntity(
            "The cursor is not one this feed returned.",
            errors=[
                ProblemFieldError(
                    pointer="/query/cursor", detail="invalid cursor", code="invalid_cursor"
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
    state = await db_session.get(ChangeFeedState, 1)
    if state is not None and position < (state.pruned_xid, state.pruned_id):
        raise CursorExpired()
    key = tuple_(ChangeEvent.xid, ChangeEvent.id)
    stmt = select(ChangeEvent).where(key > tuple_(*position), ChangeEvent.xid < _SETTLED_BELOW)
    if until is not None:
        stmt = stmt.where(key <= tuple_(*until))
    return (
        await db_session.scalars(stmt.order_by(ChangeEvent.xid, ChangeEvent.id).limit(limit))
    ).all()


async def read(
    db_session: AsyncSession, cursor: str | None, limit: int
) -> tuple[Sequence[ChangeEvent], str | None]:
    """A page of events after `cursor` (see `read_after`). The next cursor is returned even on
    an empty page, so a poller keeps its place."""
    events = await read_after(db_session, decode_cursor(cursor) if cursor else START, limit)
    if events:
        return events, encode_cursor(events[-1].xid, events[-1].id)
    return events, cursor


async def end_position(db_session: AsyncSession) -> Position:
    """Where a new follower starts so that it gets every change from now on: after the last
    settled event. A transaction still running has an id at or above the settled bound, so its
    events come after this position whenever it commits; so may some that committed just
    before (behind a still-running older one): at least once, never fewer."""
    last = await _last_settled(db_session)
    state = await db_session.get(ChangeFeedState, 1)
    pruned = (state.pruned_xid, state.pruned_id) if state is not None else START
    return max(pruned, last or START)


async def _last_settled(db_session: AsyncSession, *where: Any) -> Position | None:
    """The position of the newest settled event (meeting `where`), if there is one."""
    last = (
        await db_session.execute(
            select(ChangeEvent.xid, ChangeEvent.id)
            .where(ChangeEvent.xid < _SETTLED_BELOW, *where)
            .order_by(ChangeEvent.xid.desc(), ChangeEvent.id.desc())
            .limit(1)
        )
    ).first()
    return (last[0], last[1]) if last is not None else None


async def prune(db_session: AsyncSession, retention_days: int) -> int:
    """Delete events older than the retention and remember how far: older cursors get 410."""
    cutoff = datetime.now(UTC) - timedelta(days=retention_days)
    last = await _last_settled(db_session, ChangeEvent.occurred_at < cutoff)
    if last is None:
        return 0
    result = await db_session.execute(
        delete(ChangeEvent).where(tuple_(ChangeEvent.xid, ChangeEvent.id) <= tuple_(*last))
    )
    await db_session.execute(
        pg_insert(ChangeFeedState)
        .values(id=1, pruned_xid=last[0], pruned_id=last[1])
        .on_conflict_do_update(
            index_elements=[ChangeFeedState.id],
            set_={"pruned_xid": last[0], "pruned_id": last[1]},
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
