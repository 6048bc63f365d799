import uuid
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class CadreYearKind(Base):
    """Approved study logs summed per cadre, calendar year and kind, each log split pro rata by
    calendar days (docs/rules.md rule 2): `hours` = Σ hours × share, `days` = Σ days × share,
    `items` = Σ share (per-item credits). Policy-free, so a policy change needs no rebuild.

    Kept by statement-level triggers on `study_log` (migration 0004), in the same transaction as
    every insert, update, delete and COPY, so reports never see it out of step. Reports read
    whole years from here and correct only the edges of a period from the logs themselves.
    """

    __tablename__ = "cadre_year_kind"

    cadre_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cadre.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    hours: Mapped[Decimal] = mapped_column(Numeric)
    days: Mapped[Decimal] = mapped_column(Numeric)
    items: Mapped[Decimal] = mapped_column(Numeric)

    __table_args__ = (
        # Index-only scans for the two report reads: the centralised kinds over the five-year
        # window's years, and every kind of one year.
        Index(
            "ix_cadre_year_kind_kind_year",
            "kind",
            "year",
            postgresql_include=["cadre_id", "hours", "days"],
        ),
        Index(
            "ix_cadre_year_kind_year",
            "year",
            postgresql_include=["cadre_id", "kind", "hours", "days", "items"],
        ),
    )
