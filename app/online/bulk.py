"""Bulk writes of online records, for the import: rows already checked are copied into a
temporary table and moved into `online_record` by one INSERT ... ON CONFLICT DO NOTHING, so a
record imported before creates nothing. Their audit rows come from the table's audit trigger
(migration 0030), like every other write."""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.copy import copy_rows

# The columns of the tuples `insert_records` takes, in their order.
RECORD_COLUMNS = (
    "id",
    "platform_id",
    "external_id",
    "cadre_id",
    "learner_id",
    "course_code",
    "course_title",
    "course_minutes",
    "minutes",
    "completed",
    "test_passed",
    "started_at",
    "ended_at",
    "ip",
    "device",
    "hours",
    "study_log_id",
    "flags",
)


async def insert_records(db_session: AsyncSession, rows: Sequence[Sequence[Any]]) -> int:
    """Create the records (values of RECORD_COLUMNS, `flags` as JSON text); one whose
    (platform, external id) exists is left alone. Returns how many were created."""
    if not rows:
        return 0
    await db_session.execute(
        text(
            "CREATE TEMP TABLE import_online_record (LIKE online_record INCLUDING DEFAULTS) "
            "ON COMMIT DROP"
        )
    )
    await copy_rows(
        db_session,
        "import_online_record",
        (*RECORD_COLUMNS, "version"),
        [(*row, 1) for row in rows],
    )
    created = await db_session.execute(
        text(
            "INSERT INTO online_record SELECT * FROM import_online_record "
            "ON CONFLICT (platform_id, external_id) DO NOTHING"
        )
    )
    # Dropped now, not only at commit: one transaction may import several times.
    await db_session.execute(text("DROP TABLE import_online_record"))
    return int(created.rowcount)  # type: ignore[attr-defined]


async def set_flags(db_session: AsyncSession, flags: Mapping[uuid.UUID, str]) -> None:
    """Replace stored records' flags (JSON text of `[{rule, evidence}]`), one statement."""
    if not flags:
        return
    await db_session.execute(
        text(
            "UPDATE online_record SET flags = CAST(r.flags AS jsonb), "
            "version = online_record.version + 1, updated_at = now() "
            "FROM unnest(CAST(:ids AS uuid[]), CAST(:flags AS text[])) AS r(id, flags) "
            "WHERE online_record.id = r.id"
        ),
        {"ids": list(flags), "flags": list(flags.values())},
    )
