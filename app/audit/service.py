"""Reading the audit trail. Who may read it is the PERMISSIONS table's (app.security); the
trail is written by the database (migration 0013), so there is nothing to decide here but what
a page holds."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.audit import repository
from app.audit.schemas import AuditEventPage, AuditEventRead, AuditFilter
from app.pagination import PageParams
from app.personal_data import without_birth_day


async def list_events(
    db_session: AsyncSession, where: AuditFilter, params: PageParams, actor: Actor
) -> AuditEventPage:
    """A page of the trail; a reader that sees ID numbers masked (an auditor) reads a cadre's
    birth date as year and month, as everywhere else."""
    items, next_cursor = await repository.list_page(db_session, where, params)
    reads = [AuditEventRead.model_validate(e) for e in items]
    if not actor.sees_id_numbers:
        for read in reads:
            read.changes = without_birth_day(read.entity_type, read.changes)
    return AuditEventPage(items=reads, next_cursor=next_cursor)
