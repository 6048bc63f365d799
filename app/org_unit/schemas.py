import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from app.enums import OrgUnitKind
from app.pagination import Page
from app.schema_types import Bool, Code, InputModel, Name, OutputModel, Version


class OrgUnitCreate(InputModel):
    code: Code = Field(description="Stable code of the unit, as the HR system knows it")
    name: Name
    kind: OrgUnitKind
    parent_id: uuid.UUID | None = Field(default=None, description="Null for a root (the city)")


class OrgUnitUpdate(InputModel):
    code: Code | None = None
    name: Name | None = None
    kind: OrgUnitKind | None = None
    parent_id: uuid.UUID | None = Field(
        default=None, description="Move the unit (and its subtree) under another parent"
    )
    active: Bool | None = None


class OrgUnitRead(OutputModel):
    id: uuid.UUID
    code: str
    name: str
    kind: OrgUnitKind
    parent_id: uuid.UUID | None
    depth: int = Field(description="0 for a root")
    active: bool
    version: Version
    created_at: datetime
    updated_at: datetime


class OrgUnitPage(Page[OrgUnitRead]):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class OrgUnitFilter:
    """What `GET /org-units` narrows the list to (every filter optional)."""

    parent_id: uuid.UUID | None = None
    within: uuid.UUID | None = None  # the unit and its whole subtree
    kind: OrgUnitKind | None = None
    code: str | None = None
    active: bool | None = None
    q: str | None = None  # part of the name
