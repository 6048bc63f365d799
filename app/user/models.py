import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import Role


class User(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A person (password grant) or a machine client (client_credentials): `username` is the
    client id and `password_hash` the hashed client secret."""

    __tablename__ = "app_user"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    org_unit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT")
    )
    cadre_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cadre.id", ondelete="RESTRICT"), unique=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Carried in every token issued; raised by a password change, role change or
    # deactivation, which ends the tokens issued before.
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # The identity at an external OIDC provider an admin linked this user to: `sub` is unique
    # only at its issuer, so the pair maps a token to a user.
    external_issuer: Mapped[str | None] = mapped_column(String(500))
    external_subject: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        CheckConstraint(
            "(role = 'org_admin') = (org_unit_id IS NOT NULL)", name="org_admin_has_unit"
        ),
        CheckConstraint("(role = 'cadre') = (cadre_id IS NOT NULL)", name="cadre_has_cadre"),
        CheckConstraint(
            "(external_issuer IS NULL) = (external_subject IS NULL)",
            name="external_identity_whole",
        ),
        UniqueConstraint("external_issuer", "external_subject"),
    )


class RefreshToken(IdMixin, Base):
    """A refresh token of the password grant, stored only as the SHA-256 of the opaque string
    handed out (high-entropy, so a plain hash is enough). Rotation: each use marks it used and
    issues a child in the same family; presenting a used one revokes the whole family. The
    family's first token (`id == family_id`) is the row every use of the family locks."""

    __tablename__ = "refresh_token"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID]
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("refresh_token.id", ondelete="CASCADE")
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The user's token_version at issue: a password change, role change or deactivation raises
    # it, which ends the refresh tokens issued before as it ends the access tokens.
    token_version: Mapped[int]
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_refresh_token_family_id", "family_id"),)
