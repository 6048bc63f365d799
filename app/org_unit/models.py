import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, VersionedMixin
from app.db_types import enum_column
from app.enums import OrgUnitKind


class OrgUnit(IdMixin, VersionedMixin, TimestampMixin, Base):
    """A node of the org tree. `path` is the materialised path of ids from the root
    (`/<root>/<child>/.../<self>/`), so a subtree is one indexed prefix scan."""

    __tablename__ = "org_unit"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrgUnitKind] = mapped_column(enum_column(OrgUnitKind))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), index=True
    )
    # Collation "C" so that a subtree is the byte range [path, path-with-last-char+1).
    path: Mapped[str] = mapped_column(String(2000, collation="C"))
    depth: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (Index("ix_org_unit_path", "path"),)
