import uuid
from datetime import date

from sqlalchemy import ForeignKey, Index, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import CadreStatus, Gender, PostType, Rank
from app.personal_data import cipher


class Cadre(IdMixin, VersionedMixin, TimestampMixin, Base):
    __tablename__ = "cadre"

    hr_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # The resident ID number is never stored in plain text (app.personal_data).
    id_number_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    gender: Mapped[Gender] = mapped_column(enum_column(Gender))
    birth_date: Mapped[date]
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id", ondelete="RESTRICT"))
    rank: Mapped[Rank] = mapped_column(enum_column(Rank))
    post_type: Mapped[PostType] = mapped_column(
        enum_column(PostType), default=PostType.non_leading, server_default=PostType.non_leading
    )
    # Did a write ever name the post type? False while it is only the creation default or
    # migration 0011's inference; a first stated `leading` then is no promotion (rule 4).
    post_type_stated: Mapped[bool] = mapped_column(default=False, server_default=false())
    position: Mapped[str | None] = mapped_column(String(200))
    promoted_on: Mapped[date | None]
    status: Mapped[CadreStatus] = mapped_column(
        enum_column(CadreStatus), default=CadreStatus.active
    )

    __table_args__ = (Index("ix_cadre_org_unit_id_status", "org_unit_id", "status"),)

    @property
    def id_number(self) -> str:
        return cipher().decrypt(self.id_number_ciphertext)

    @id_number.setter
    def id_number(self, value: str) -> None:
        self.id_number_ciphertext = cipher().encrypt(value)
        self.id_number_hash = cipher().lookup_hash(value)
