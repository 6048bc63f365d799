"""Bulk writes of study logs, for the import: rows already checked by the caller are copied into
a temporary table and moved into `study_log` by one INSERT ... ON CONFLICT DO NOTHING, so a row
whose id exists already creates nothing. Their audit rows and change events are written by the
database's audit trigger (migration 0013), like every other write."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.copy import copy_rows
from app.enums import StudyLogSource, StudyLogStatus


async def import_many(
    db_session: AsyncSession, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[uuid.UUID]:
    """Create the logs in `rows` (values of `columns`, which include `id` and `status`) as
    imported ones, approved logs reviewed now. Returns the ids of the logs created: an id that
    exists already is left alone."""
    if not rows:
        return []
    await db_session.execute(
        text(
            "CREATE TEMP TABLE import_study_log (LIKE study_log INCLUDING DEFAULTS) ON COMMIT DROP"
        )
    )
    now = datetime.now(UTC)
    status = list(columns).index("status")
    approved = StudyLogStatus.approved.value
    await copy_rows(
        db_session,
        "import_study_log",
        (*columns, "source", "version", "reviewed_at"),
        [
            (*row, StudyLogSource.import_.value, 1, now if row[status] == approved else None)
            for row in rows
        ],
    )
    created = list(
        await db_session.scalars(
            text(
                "INSERT INTO study_log SELECT * FROM import_study_log "
                "ON CONFLICT (id) DO NOTHING RETURNING id"
            )
        )
    )
    # Dropped now, not only at commit: one transaction may import several times.
    await db_session.execute(text("DROP TABLE import_study_log"))
    return created
