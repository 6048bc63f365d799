"""Every query of the catalogue (docs/rules.md, "Catalogue"), and its scope statements."""

import uuid
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.catalogue.models import Course, Teacher
from app.enums import Role
from app.org_unit.models import OrgUnit
from app.org_unit.tree import path_ids, subtree_ids

Entry = TypeVar("Entry", Course, Teacher)


def readable(model: type[Course] | type[Teacher], actor: Actor) -> ColumnElement[bool]:
    """Entries the actor may read: all for the whole-tree roles, its subtree's for an
    org_admin, none for a cadre."""
    if actor.whole_tree:
        return true()
    if actor.role != Role.org_admin or actor.org_path is None:
        return false()
    return model.org_unit_id.in_(subtree_ids(actor.org_path))


def usable_from(model: type[Course] | type[Teacher], unit_path: str) -> ColumnElement[bool]:
    """Active entries a unit may name: its own catalogue's, its ancestors' (a city's catalogue
    serves its counties) and its subtree's."""
    return (model.active.is_(True)) & or_(
        model.org_unit_id.in_(path_ids(unit_path)),
        model.org_unit_id.in_(subtree_ids(unit_path)),
    )


async def get(
    db_session: AsyncSession,
    model: type[Entry],
    entry_id: uuid.UUID,
    actor: Actor,
    *,
    for_update: bool = False,
) -> Entry | None:
    stmt = select(model).where(model.id == entry_id, readable(model, actor))
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


def list_query(
    model: type[Entry], actor: Actor, *, unit_path: str | None, active: bool | None
) -> Select[Entry]:
    stmt = select(model).where(readable(model, actor))
    if unit_path is not None:
        stmt = stmt.where(model.org_unit_id.in_(subtree_ids(unit_path)))
    if active is not None:
        stmt = stmt.where(model.active.is_(active))
    return stmt


async def unit_path(db_session: AsyncSession, org_unit_id: uuid.UUID) -> str | None:
    return await db_session.scalar(select(OrgUnit.path).where(OrgUnit.id == org_unit_id))


async def usable_ids(
    db_session: AsyncSession,
    model: type[Course] | type[Teacher],
    ids: Sequence[uuid.UUID],
    unit_path: str,
) -> set[uuid.UUID]:
    """Of `ids`, those the unit at `unit_path` may name."""
    if not ids:
        return set()
    found = await db_session.scalars(
        select(model.id).where(model.id.in_(ids), usable_from(model, unit_path))
    )
    return set(found)
