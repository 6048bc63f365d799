import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.db import DbSession
from app.enums import AuditAction, Role
from app.http import API_PREFIX
from app.pagination import Page, PageQuery, paginate
from app.schema_types import Instant, OutputModel
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}/audit-events", tags=["audit"])


class AuditEventRead(OutputModel):
    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_username: str | None
    actor_role: Role | None
    request_id: str | None = Field(description="The X-Request-ID of the request that did it")
    action: AuditAction
    entity_type: str = Field(examples=["cadre", "study_log"])
    entity_id: uuid.UUID
    changes: dict[str, object] = Field(
        description="Created: the fields set. Updated: {field: {before, after}}. Secrets and "
        "ID numbers appear only as `<changed>`."
    )


class AuditEventPage(Page[AuditEventRead]):
    pass


@router.get("", operation_id="listAuditEvents")
async def list_audit_events(
    db_session: DbSession,
    actor: CurrentActor,
    page: PageQuery,
    entity_type: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]+$")] = None,
    entity_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    request_id: Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")] = None,
    occurred_from: Annotated[Instant | None, Query()] = None,
    occurred_to: Annotated[Instant | None, Query()] = None,
) -> AuditEventPage:
    """Who did what, when, from which request: oldest first. For `admin` and `auditor`."""
    stmt = select(AuditEvent)
    if entity_type is not None:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    if entity_id is not None:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if request_id is not None:
        stmt = stmt.where(AuditEvent.request_id == request_id)
    if occurred_from is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= occurred_from)
    if occurred_to is not None:
        stmt = stmt.where(AuditEvent.occurred_at < occurred_to)
    items, next_cursor = await paginate(db_session, stmt, AuditEvent.id, page)
    return AuditEventPage(
        items=[AuditEventRead.model_validate(e) for e in items], next_cursor=next_cursor
    )
