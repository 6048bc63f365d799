import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from app.enums import AuditAction, Role
from app.pagination import Page
from app.schema_types import OutputModel


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditFilter:
    """What `GET /audit-events` narrows the trail to (every filter optional)."""

    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    request_id: str | None = None
    client_request_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


class AuditEventRead(OutputModel):
    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_username: str | None
    actor_role: Role | None
    request_id: str | None = Field(
        description="The server's id of the request that did it (the `X-Request-ID` of its "
        "answer), or the name of the job that did it (`cli:create-admin`, `webhook-worker`)"
    )
    client_request_id: str | None = Field(
        description="The `X-Request-ID` the client sent with that request, if any: the "
        "client's own label, recorded beside the server's id, never in its place",
    )
    action: AuditAction
    entity_type: str = Field(examples=["cadre", "study_log"])
    entity_id: uuid.UUID
    changes: dict[str, object] = Field(
        description="Created: the fields set. Updated: {field: {before, after}}. Secrets and "
        "ID numbers appear only as `<changed>`."
    )


class AuditEventPage(Page[AuditEventRead]):
    pass
