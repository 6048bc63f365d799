from datetime import date
from typing import Any

from sqlalchemy import CheckConstraint, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin


class CreditPolicy(IdMixin, VersionedMixin, TimestampMixin, Base):
    """An effective-dated rule set (学时学分办法). `definition` holds every threshold, factor, cap
    and rank group (see `app.credit_policy.schemas.CreditPolicyDefinition`)."""

    __tablename__ = "credit_policy"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint(
            "effective_to IS NULL OR effective_to >= effective_from", name="range_ordered"
        ),
    )
