from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.idempotency import repository


async def prune(db_session: AsyncSession, retention_hours: int) -> int:
    """Drop the records past the retention: their keys would start afresh anyway
    (app.idempotency.route)."""
    return await repository.delete_older_than(
        db_session, datetime.now(UTC) - timedelta(hours=retention_hours)
    )
