import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import TrainingForm


class QualificationType(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A credential a post requires (持证上岗, docs/rules.md rule 13), owned by an org unit.

    It requires cadres in its owner's subtree who match every non-empty list: a post type, a
    rank, an org unit's subtree. It is granted by completing a session of a listed form, or one
    that teaches a listed catalogue course.
    """

    __tablename__ = "qualification_type"

    org_unit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    validity_years: Mapped[int]
    required_post_types: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    required_ranks: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    required_org_unit_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    granting_forms: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    # Catalogue courses whose teaching grants the type (checked usable when written).
    granting_course_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))

    __table_args__ = (
        UniqueConstraint("org_unit_id", "name"),
        CheckConstraint("validity_years BETWEEN 1 AND 50", name="validity_in_range"),
        CheckConstraint("name <> ''", name="name_not_empty"),
    )


class CadreQualification(IdMixin, VersionedMixin, TimestampMixin, Base):
    """One cadre's qualification: recorded by hand with evidence, or granted on completing a
    session of a granting form (`granted_by_form`). Valid `valid_from` … `valid_until`, both
    inclusive; revoked with a reason."""

    __tablename__ = "cadre_qualification"

    cadre_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cadre.id", ondelete="RESTRICT"), index=True
    )
    qualification_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("qualification_type.id", ondelete="RESTRICT"), index=True
    )
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(Text)
    granted_by_form: Mapped[TrainingForm | None] = mapped_column(enum_column(TrainingForm))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoke_reason: Mapped[str | None] = mapped_column(String(500))
    # The certificate a completed class granted it by; revoking the certificate revokes it
    # (a database trigger, migration 0029). Null: recorded by hand.
    certificate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("certificate.id", ondelete="RESTRICT")
    )

    __table_args__ = (
        UniqueConstraint(
            "cadre_id", "qualification_type_id", "valid_from", name="uq_cadre_qualification_held"
        ),
        CheckConstraint("valid_until >= valid_from", name="period_ordered"),
        CheckConstraint("evidence <> ''", name="evidence_not_empty"),
        CheckConstraint(
            "(revoked_at IS NULL) = (revoke_reason IS NULL)", name="revocation_has_reason"
        ),
        Index(
            "uq_cadre_qualification_certificate",
            "certificate_id",
            "qualification_type_id",
            unique=True,
            postgresql_where=text("certificate_id IS NOT NULL"),
        ),
    )
