"""Reading the audit trail. Who may read it is the PERMISSIONS table's (app.security); the
trail is written by the database (migration 0013), so there is nothing to decide here but what
a page holds."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.audit import repository
from app.audit.schemas import AuditEventPage, AuditFilter, audit_event_read
from app.pagination import PageParams
from app.personal_data import without_birth_day


async def list_events(
    db_session: AsyncSession, where: AuditFilter, params: PageParams, actor: Actor
) -> AuditEventPage:
    """A page of the trail; a reader that sees ID numbers masked (an auditor) reads a cadre's
    birth date as year and month, as everywhere else."""
    items, next_cursor = await repository.list_page(db_session, where, params)
    masked = not actor.sees_id_numbers
    reads = [
        audit_event_read(e, without_birth_day(e.entity_type, e.changes) if masked else None)
        for e in items
    ]
    return AuditEventPage(items=reads, next_cursor=next_cursor)
