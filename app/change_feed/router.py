from typing import Annotated

from fastapi import APIRouter, Query

from app.change_feed import service
from app.change_feed.errors import CursorExpired
from app.change_feed.schemas import ChangePage, change_read
from app.db import DbSession
from app.http import API_PREFIX, problems
from app.pagination import MAX_PAGE_SIZE
from app.personal_data import without_birth_day
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}/changes", tags=["change feed"])


@router.get("", operation_id="listChanges", responses=problems(CursorExpired))
async def list_changes(
    db_session: DbSession,
    actor: CurrentActor,
    cursor: Annotated[
        str | None,
        Query(max_length=64, pattern=r"^[A-Za-z0-9_-]*$", description="From the last page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> ChangePage:
    """Every committed change to org units, cadres, sessions, enrollments, study logs,
    assessments and credit policies, written in the same transaction as the change. Follow
    `next_cursor`: a change is never skipped, even when transactions commit out of order (an
    event appears once every transaction that began before it has finished). Without a cursor,
    from the oldest change still kept; a cursor older than the retention answers 410."""
    events, next_cursor = await service.read(db_session, cursor or None, limit)
    # An auditor reads a cadre's birth date as year and month, as everywhere else.
    masked = not actor.sees_id_numbers
    reads = [
        change_read(e, without_birth_day(e.entity_type, e.changes) if masked else None)
        for e in events
    ]
    return ChangePage(items=reads, next_cursor=next_cursor)
