import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, model_validator

from app.enums import Role
from app.i18n import N_
from app.schema_types import Bool, InputModel, OutputModel, Version

Username = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@\-]*$")
]
Password = Annotated[
    SecretStr,
    Field(min_length=12, max_length=200, description="Write-only; at least 12 characters"),
]


class BindingMismatch(ValueError):
    """A role without the unit or cadre it needs, or with one it does not take (`field`)."""

    def __init__(self, field: str, role: str) -> None:
        super().__init__(f"{field} is required for {role}, and only for it")
        self.field = field


def check_binding(
    role: Role | None, org_unit_id: uuid.UUID | None, cadre_id: uuid.UUID | None
) -> None:
    if role is None:
        return
    if (role == Role.org_admin) != (org_unit_id is not None):
        raise BindingMismatch("org_unit_id", Role.org_admin.value)
    if (role == Role.cadre) != (cadre_id is not None):
        raise BindingMismatch("cadre_id", Role.cadre.value)


ExternalIssuer = Annotated[
    str,
    StringConstraints(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$"),
    Field(description="The OIDC provider's issuer (`iss`), as `APP_AUTH__OIDC_ISSUER`"),
]
ExternalSubject = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$"),
    Field(description="The user's `sub` at that provider (never a username it may change)"),
]


def check_external_identity(issuer: str | None, subject: str | None) -> None:
    if (issuer is None) != (subject is None):
        raise ValueError(N_("external_issuer and external_subject go together"))


class UserCreate(InputModel):
    username: Username
    password: Password
    role: Role
    org_unit_id: uuid.UUID | None = Field(
        default=None, description="The unit an org_admin administers"
    )
    cadre_id: uuid.UUID | None = Field(default=None, description="The cadre a cadre user is")
    active: Bool = True
    external_issuer: ExternalIssuer | None = None
    external_subject: ExternalSubject | None = None

    @model_validator(mode="after")
    def _binding(self) -> Self:
        check_binding(self.role, self.org_unit_id, self.cadre_id)
        check_external_identity(self.external_issuer, self.external_subject)
        return self


class UserUpdate(InputModel):
    password: Password | None = None
    role: Role | None = None
    org_unit_id: uuid.UUID | None = None
    cadre_id: uuid.UUID | None = None
    active: Bool | None = None
    external_issuer: ExternalIssuer | None = Field(
        default=None, description="With external_subject: link (or, both null, unlink)"
    )
    external_subject: ExternalSubject | None = None

    @model_validator(mode="after")
    def _external_identity(self) -> Self:
        given = {"external_issuer", "external_subject"} & self.model_fields_set
        if given and len(given) != 2:
            raise ValueError(N_("external_issuer and external_subject go together"))
        check_external_identity(self.external_issuer, self.external_subject)
        return self


class UserRead(OutputModel):
    id: uuid.UUID
    username: str
    role: Role
    org_unit_id: uuid.UUID | None
    cadre_id: uuid.UUID | None
    active: bool
    external_issuer: str | None = Field(description="The linked OIDC identity's issuer")
    external_subject: str | None = Field(description="The linked OIDC identity's `sub`")
    locked_until: datetime | None = Field(description="Set while locked after failed logins")
    version: Version
    created_at: datetime
    updated_at: datetime


class GrantType(StrEnum):
    password = "password"  # noqa: S105 (the grant type's name)
    client_credentials = "client_credentials"
    refresh_token = "refresh_token"  # noqa: S105 (the grant type's name)


class TokenResponse(BaseModel):
    # Always serialised whole (`refresh_token` is null for client_credentials): all required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires")
    role: Role
    refresh_token: str | None = Field(
        default=None,
        description="Password and refresh_token grants only: an opaque token for one "
        "`grant_type=refresh_token` request; each use returns a new one",
    )
