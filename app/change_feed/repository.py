"""Every query of the change feed. Events are written by the database (the audit trigger of
every table the feed carries, migration 0013); here they are read, and pruned."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import BigInteger, ColumnClause, delete, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.change_feed.models import ChangeEvent, ChangeFeedState

# A place in the feed: (transaction id, event id) of an event.
Position = tuple[int, int]

# Every transaction that began before the oldest one still running has finished.
_SETTLED_BELOW: ColumnClause[int] = literal_column(
    "(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint", type_=BigInteger
)


async def pruned_through(db_session: AsyncSession) -> Position | None:
    """The position of the last event pruned, if the feed has ever been pruned."""
    state = await db_session.get(ChangeFeedState, 1)
    return (state.pruned_xid, state.pruned_id) if state is not None else None


async def settled_after(
    db_session: AsyncSession, position: Position, limit: int, *, until: Position | None
) -> Sequence[ChangeEvent]:
    """Up to `limit` settled events after `position` (up to `until`, inclusive, when given), in
    (transaction, event) order."""
    key = tuple_(ChangeEvent.xid, ChangeEvent.id)
    stmt = select(ChangeEvent).where(key > tuple_(*position), ChangeEvent.xid < _SETTLED_BELOW)
    if until is not None:
        stmt = stmt.where(key <= tuple_(*until))
    return (
        await db_session.scalars(stmt.order_by(ChangeEvent.xid, ChangeEvent.id).limit(limit))
    ).all()


async def last_settled(
    db_session: AsyncSession, *, before: datetime | None = None
) -> Position | None:
    """The position of the newest settled event (that occurred before `before`, when given)."""
    stmt = select(ChangeEvent.xid, ChangeEvent.id).where(ChangeEvent.xid < _SETTLED_BELOW)
    if before is not None:
        stmt = stmt.where(ChangeEvent.occurred_at < before)
    last = (
        await db_session.execute(
            stmt.order_by(ChangeEvent.xid.desc(), ChangeEvent.id.desc()).limit(1)
        )
    ).first()
    return (last[0], last[1]) if last is not None else None


async def prune_through(db_session: AsyncSession, last: Position) -> int:
    """Delete the events up to `last` (inclusive) and remember how far; the count deleted."""
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
