"""A change as the feed, webhook messages and (with who did it) the audit trail show it.

What a change holds depends on its action (migration 0013 writes it): a creation gives every
column set, by name, with its value; an update gives `{before, after}` of each column that
changed; a deletion gives nothing. `ChangeRead` is a union discriminated by `action`."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from app.enums import AuditAction, FeedEntity
from app.json_types import JsonValue
from app.schema_types import OutputModel

# A column's value in a change (`JsonValue`, app.json_types): numbers of `numeric` columns are
# strings with their scale ("12.50"), dates and times ISO strings, ids strings; an array column an
# array; a JSON column (an assessment's `training_snapshot`, a credit policy's `definition`) the
# object its read schema describes (`TrainingSnapshot`, `CreditPolicyDefinitionRead`).

Hidden = Annotated[
    Literal["<changed>"],
    Field(description="A secret or an ID number changed; its value never enters the trail"),
]


class ColumnChange(OutputModel):
    """One column an update changed."""

    before: JsonValue
    after: JsonValue


CreatedChanges = Annotated[
    dict[str, JsonValue | Hidden],
    Field(description="Every column set (a null one is left out), by name, with its value"),
]
UpdatedChanges = Annotated[
    dict[str, ColumnChange | Hidden],
    Field(description="Each column that changed, by name: `{before, after}`", min_length=1),
]
DeletedChanges = Annotated[
    dict[str, ColumnChange], Field(description="Always empty: `{}`", max_length=0)
]


class _Change(OutputModel):
    """One change, as `GET /api/v1/changes` lists it and as webhook messages carry it."""

    id: int = Field(
        description="The change's own id: the same wherever it appears (this feed, every webhook "
        "message and every re-send of one), so a receiver drops a change it has already applied",
        examples=[4711],
    )
    entity_type: FeedEntity
    entity_id: uuid.UUID
    occurred_at: datetime
    request_id: str | None


class ChangeCreated(_Change):
    action: Literal[AuditAction.create]
    changes: CreatedChanges


class ChangeUpdated(_Change):
    action: Literal[AuditAction.update]
    changes: UpdatedChanges


class ChangeDeleted(_Change):
    action: Literal[AuditAction.delete]
    changes: DeletedChanges


ChangeRead = Annotated[ChangeCreated | ChangeUpdated | ChangeDeleted, Field(discriminator="action")]
_CHANGE_READ: TypeAdapter[ChangeCreated | ChangeUpdated | ChangeDeleted] = TypeAdapter(ChangeRead)


def change_read(
    event: Any, changes: dict[str, object] | None = None
) -> ChangeCreated | ChangeUpdated | ChangeDeleted:
    """An event row (or anything with its attributes) as the feed shows it; `changes` in place
    of the row's own (a masked copy)."""
    fields = {name: getattr(event, name) for name in (*_Change.model_fields, "action")}
    fields["changes"] = event.changes if changes is None else changes
    return _CHANGE_READ.validate_python(fields)


class ChangePage(BaseModel):
    items: list[ChangeRead]
    next_cursor: str | None = Field(
        description="Where to continue; unchanged when nothing new has settled yet"
    )
