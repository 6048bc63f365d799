import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from app.change_feed.schemas import CreatedChanges, DeletedChanges, UpdatedChanges
from app.enums import AuditAction, Role
from app.pagination import Page
from app.schema_types import OutputModel


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditFilter:
    """What `GET /audit-events` narrows the trail to (every filter optional)."""

    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    action: AuditAction | None = None
    actor_id: uuid.UUID | None = None
    request_id: str | None = None
    client_request_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


class _AuditEvent(OutputModel):
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
    entity_type: str = Field(examples=["cadre", "study_log"])
    entity_id: uuid.UUID


_HIDDEN_NOTE = " Secrets and ID numbers appear only as `<changed>`."


class AuditEventCreated(_AuditEvent):
    action: Literal[AuditAction.create]
    changes: CreatedChanges = Field(description="The fields set, by name." + _HIDDEN_NOTE)


class AuditEventUpdated(_AuditEvent):
    action: Literal[AuditAction.update]
    changes: UpdatedChanges = Field(
        description="The fields changed, by name: `{before, after}`." + _HIDDEN_NOTE
    )


class AuditEventDeleted(_AuditEvent):
    action: Literal[AuditAction.delete]
    changes: DeletedChanges


# One event of the trail; what `changes` holds depends on `action`.
AuditEventRead = Annotated[
    AuditEventCreated | AuditEventUpdated | AuditEventDeleted, Field(discriminator="action")
]
_AUDIT_EVENT_READ: TypeAdapter[AuditEventCreated | AuditEventUpdated | AuditEventDeleted] = (
    TypeAdapter(AuditEventRead)
)


def audit_event_read(
    event: Any, changes: dict[str, object] | None = None
) -> AuditEventCreated | AuditEventUpdated | AuditEventDeleted:
    """An audit row as the trail shows it; `changes` in place of the row's own (a masked copy)."""
    fields = {name: getattr(event, name) for name in (*_AuditEvent.model_fields, "action")}
    fields["changes"] = event.changes if changes is None else changes
    return _AUDIT_EVENT_READ.validate_python(fields)


class AuditEventPage(Page[AuditEventRead]):
    pass
