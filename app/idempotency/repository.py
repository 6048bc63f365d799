"""Every query of the stored answers (the route class adds a new one to the request's
transaction; app.idempotency.route)."""

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.idempotency.models import IdempotencyRecord


async def try_lock(db_session: AsyncSession, principal_id: uuid.UUID, key: str) -> bool:
    """Take the key's transaction-scoped lock, unless a request holding it is still running."""
    lock = func.hashtextextended(f"idempotency:{principal_id}:{key}", 0)
    return bool(await db_session.scalar(select(func.pg_try_advisory_xact_lock(lock))))


async def get(
    db_session: AsyncSession, principal_id: uuid.UUID, key: str
) -> IdempotencyRecord | None:
    return await db_session.get(IdempotencyRecord, (principal_id, key))


async def forget(db_session: AsyncSession, record: IdempotencyRecord) -> None:
    """Delete the record, so that its key starts afresh (a statement: records are not
    audited)."""
    db_session.expunge(record)
    await db_session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.principal_id == record.principal_id,
            IdempotencyRecord.key == record.key,
        )
    )


async def delete_older_than(db_session: AsyncSession, cutoff: datetime) -> int:
    result = await db_session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)
