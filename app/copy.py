"""Bulk loading with PostgreSQL COPY inside the request's transaction (asyncpg's binary
`copy_records_to_table`): an order of magnitude faster than parameterised INSERTs."""

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def copy_rows(
    db_session: AsyncSession, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    if not rows:
        return
    connection = await db_session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(table, columns=list(columns), records=rows)


def jsonb(value: Any) -> str:
    """asyncpg's jsonb codec takes the JSON text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
