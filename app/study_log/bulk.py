"""Bulk writes of study logs, for the import: rows already checked by the caller are copied into
a temporary table and moved into `study_log` by one INSERT ... ON CONFLICT DO NOTHING, so a row
whose id exists already creates nothing. Their audit rows and change events are written by the
database's audit trigger (migration 0013), like every other write."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.copy import copy_rows
from app.enums import StudyLogSource, StudyLogStatus

# Rows moved into study_log by one statement. A statement's time grows with its rows (each row
# costs the indexes, the foreign keys, the audit and sums triggers: ~0.5 ms a row on a grown
# province, bench/README "bulk"); 50,000 rows in one statement took 27-43 s on the busy scale-1
# province, past the service's statement timeout. In batches, each statement stays well under.
IMPORT_BATCH_ROWS = 5_000


async def import_many(
    db_session: AsyncSession,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    batch_rows: int = IMPORT_BATCH_ROWS,
) -> list[uuid.UUID]:
    """Create the logs in `rows` (values of `columns`, which include `id` and `status`) as
    imported ones, approved logs reviewed now. Returns the ids of the logs created: an id that
    exists already is left alone. The rows go through a temporary table `batch_rows` at a time,
    each batch moved by one statement, all in the caller's transaction."""
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
    created: list[uuid.UUID] = []
    for start in range(0, len(rows), batch_rows):
        await copy_rows(
            db_session,
            "import_study_log",
            (*columns, "source", "version", "reviewed_at"),
            [
                (*row, StudyLogSource.import_.value, 1, now if row[status] == approved else None)
                for row in rows[start : start + batch_rows]
            ],
        )
        created.extend(
            await db_session.scalars(
                text(
                    "INSERT INTO study_log SELECT * FROM import_study_log "
                    "ON CONFLICT (id) DO NOTHING RETURNING id"
                )
            )
        )
        await db_session.execute(text("TRUNCATE import_study_log"))
    # Dropped now, not only at commit: one transaction may import several times.
    await db_session.execute(text("DROP TABLE import_study_log"))
    return created


async def hold_for_review(
    db_session: AsyncSession, reasons: Mapping[uuid.UUID, str]
) -> list[uuid.UUID]:
    """Put imported logs back on hold: each log of `reasons` that is `approved` as the import
    wrote it (source `import`, version 1: approved by the import, never reviewed or changed by a
    person) becomes `pending` with its reason as `review_comment` (at most 2,000 characters), to
    be reviewed as any other. A log a person reviewed or changed, or not approved, is left
    alone. One statement; returns the ids of the logs put on hold."""
    if not reasons:
        return []
    held = await db_session.scalars(
        text(
            "UPDATE study_log SET status = :pending, review_comment = r.reason, "
            "reviewed_at = NULL, version = study_log.version + 1, updated_at = now() "
            "FROM unnest(CAST(:ids AS uuid[]), CAST(:reasons AS varchar[])) AS r(id, reason) "
            "WHERE study_log.id = r.id AND study_log.status = :approved "
            "AND study_log.source = :import_ AND study_log.version = 1 "
            "RETURNING study_log.id"
        ),
        {
            "pending": StudyLogStatus.pending.value,
            "approved": StudyLogStatus.approved.value,
            "import_": StudyLogSource.import_.value,
            "ids": list(reasons),
            "reasons": [reason[:2000] for reason in reasons.values()],
        },
    )
    return list(held)
