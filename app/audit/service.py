"""Reading the audit trail. Who may read it is the PERMISSIONS table's (app.security); the
trail is written by the database (migration 0013), so there is nothing to decide here but what
a page holds."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import repository
from app.audit.schemas import AuditEventPage, AuditEventRead, AuditFilter
from app.pagination import PageParams


async def list_events(
    db_session: AsyncSession, where: AuditFilter, params: PageParams
) -> AuditEventPage:
    items, next_cursor = await repository.list_page(db_session, where, params)
    return AuditEventPage(
        items=[AuditEventRead.model_validate(e) for e in items], next_cursor=next_cursor
    )
