import uuid
from datetime import date

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import CadreStatus, Gender, Rank


class Cadre(IdMixin, VersionedMixin, TimestampMixin, Base):
    __tablename__ = "cadre"

    hr_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    gender: Mapped[Gender] = mapped_column(enum_column(Gender))
    birth_date: Mapped[date]
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    rank: Mapped[Rank] = mapped_column(enum_column(Rank))
    position: Mapped[str | None] = mapped_column(String(200))
    promoted_on: Mapped[date | None]
    status: Mapped[CadreStatus] = mapped_column(
        enum_column(CadreStatus), default=CadreStatus.active
    )

    __table_args__ = (Index("ix_cadre_org_unit_id_status", "org_unit_id", "status"),)
