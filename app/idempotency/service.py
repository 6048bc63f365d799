from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.idempotency.models import IdempotencyRecord


async def prune(db_session: AsyncSession, retention_hours: int) -> int:
    """Drop the records past the retention: their keys would start afresh anyway
    (app.idempotency.route)."""
    cutoff = datetime.now(UTC) - timedelta(hours=retention_hours)
    result = await db_session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)
