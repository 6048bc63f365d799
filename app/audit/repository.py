"""Every query of the audit trail (its rows are written by the database, never here)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.schemas import AuditFilter
from app.pagination import PageParams, paginate


async def list_page(
    db_session: AsyncSession, where: AuditFilter, params: PageParams
) -> tuple[list[AuditEvent], str | None]:
    """A page of the events matching `where`, oldest first."""
    stmt = select(AuditEvent)
    if where.entity_type is not None:
        stmt = stmt.where(AuditEvent.entity_type == where.entity_type)
    if where.entity_id is not None:
        stmt = stmt.where(AuditEvent.entity_id == where.entity_id)
    if where.action is not None:
        stmt = stmt.where(AuditEvent.action == where.action)
    if where.actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == where.actor_id)
    if where.request_id is not None:
        stmt = stmt.where(AuditEvent.request_id == where.request_id)
    if where.client_request_id is not None:
        stmt = stmt.where(AuditEvent.client_request_id == where.client_request_id)
    if where.occurred_from is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= where.occurred_from)
    if where.occurred_to is not None:
        stmt = stmt.where(AuditEvent.occurred_at < where.occurred_to)
    return await paginate(db_session, stmt, AuditEvent.id, params)
