import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, Field, SecretStr, StringConstraints, model_validator

from app.enums import Role
from app.schema_types import InputModel, OutputModel

Username = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@\-]*$")
]
Password = Annotated[
    SecretStr,
    Field(min_length=12, max_length=200, description="Write-only; at least 12 characters"),
]


def check_binding(
    role: Role | None, org_unit_id: uuid.UUID | None, cadre_id: uuid.UUID | None
) -> None:
    if role is None:
        return
    if (role == Role.org_admin) != (org_unit_id is not None):
        raise ValueError("org_unit_id is required for org_admin, and only for it")
    if (role == Role.cadre) != (cadre_id is not None):
        raise ValueError("cadre_id is required for cadre, and only for it")


class UserCreate(InputModel):
    username: Username
    password: Password
    role: Role
    org_unit_id: uuid.UUID | None = Field(
        default=None, description="The unit an org_admin administers"
    )
    cadre_id: uuid.UUID | None = Field(default=None, description="The cadre a cadre user is")
    active: bool = True

    @model_validator(mode="after")
    def _binding(self) -> Self:
        check_binding(self.role, self.org_unit_id, self.cadre_id)
        return self


class UserUpdate(InputModel):
    password: Password | None = None
    role: Role | None = None
    org_unit_id: uuid.UUID | None = None
    cadre_id: uuid.UUID | None = None
    active: bool | None = None


class UserRead(OutputModel):
    id: uuid.UUID
    username: str
    role: Role
    org_unit_id: uuid.UUID | None
    cadre_id: uuid.UUID | None
    active: bool
    locked_until: datetime | None = Field(description="Set while locked after failed logins")
    version: int
    created_at: datetime
    updated_at: datetime


class GrantType(StrEnum):
    password = "password"  # noqa: S105 (the grant type's name)
    client_credentials = "client_credentials"


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires")
    role: Role
