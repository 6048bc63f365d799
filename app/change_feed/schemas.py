import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.enums import AuditAction
from app.schema_types import OutputModel


class ChangeRead(OutputModel):
    """One change, as `GET /api/v1/changes` lists it and as webhook messages carry it."""

    id: int = Field(
        description="The change's own id: the same wherever it appears (this feed, every webhook "
        "message and every re-send of one), so a receiver drops a change it has already applied",
        examples=[4711],
    )
    entity_type: str = Field(examples=["study_log"])
    entity_id: uuid.UUID
    action: AuditAction
    changes: dict[str, Any] = Field(
        description="Created: the fields set; updated: {field: {before, after}}"
    )
    occurred_at: datetime
    request_id: str | None


class ChangePage(BaseModel):
    items: list[ChangeRead]
    next_cursor: str | None = Field(
        description="Where to continue; unchanged when nothing new has settled yet"
    )
