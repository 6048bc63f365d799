import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEventPage, AuditFilter
from app.db import ReadSession
from app.enums import AuditAction
from app.http import API_PREFIX
from app.pagination import PageQuery
from app.schema_types import Instant
from app.security import CurrentActor

router = APIRouter(prefix=f"{API_PREFIX}/audit-events", tags=["audit"])


@router.get("", operation_id="listAuditEvents")
async def list_audit_events(
    db_session: ReadSession,
    actor: CurrentActor,
    page: PageQuery,
    entity_type: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]+$")] = None,
    entity_id: uuid.UUID | None = None,
    action: Annotated[
        AuditAction | None,
        Query(description="Only creations, updates or deletions (what `changes` holds follows)"),
    ] = None,
    actor_id: uuid.UUID | None = None,
    request_id: Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")] = None,
    client_request_id: Annotated[
        str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
    ] = None,
    occurred_from: Annotated[Instant | None, Query()] = None,
    occurred_to: Annotated[Instant | None, Query()] = None,
) -> AuditEventPage:
    """Who did what, when, from which request: oldest first. For `admin` and `auditor`.
    `request_id` is the server's id of the request (the `X-Request-ID` of its answer);
    `client_request_id` the `X-Request-ID` the client sent, if any."""
    where = AuditFilter(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor_id=actor_id,
        request_id=request_id,
        client_request_id=client_request_id,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
    )
    return await service.list_events(db_session, where, page, actor)
