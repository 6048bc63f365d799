"""Queries of the org tree. A subtree is one range scan on the materialised `path`."""

import uuid

from sqlalchemy import ColumnElement, false, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.enums import Role
from app.org_unit.models import OrgUnit
from app.org_unit.tree import in_subtree, path_ids


async def get(
    db_session: AsyncSession, org_unit_id: uuid.UUID, actor: Actor | None = None
) -> OrgUnit | None:
    """The unit, if it exists and (given an actor) lies in the actor's scope."""
    if actor is None:
        return await db_session.get(OrgUnit, org_unit_id)
    stmt = select(OrgUnit).where(OrgUnit.id == org_unit_id, readable(actor))
    return (await db_session.scalars(stmt)).one_or_none()


async def get_by_code(db_session: AsyncSession, code: str) -> OrgUnit | None:
    result = await db_session.scalars(select(OrgUnit).where(OrgUnit.code == code))
    return result.one_or_none()


async def move_subtree(
    db_session: AsyncSession, old_path: str, new_path: str, depth_delta: int
) -> None:
    """Rewrite the path prefix of every descendant after a unit moves."""
    await db_session.execute(
        update(OrgUnit)
        .where(in_subtree(old_path), OrgUnit.path != old_path)
        .values(
            path=new_path + func.substr(OrgUnit.path, len(old_path) + 1),
            depth=OrgUnit.depth + depth_delta,
            version=OrgUnit.version + 1,
        )
        .execution_options(synchronize_session=False)
    )


def readable(actor: Actor) -> ColumnElement[bool]:
    """The units an actor may see: every unit for the whole-tree roles; an org_admin its
    subtree; a cadre its own unit and the units above it."""
    if actor.whole_tree:
        return true()
    if actor.org_path is None:
        return false()
    if actor.role == Role.org_admin:
        return in_subtree(actor.org_path)
    return OrgUnit.id.in_(path_ids(actor.org_path))


async def subtree_to_depth(db_session: AsyncSession, root: OrgUnit, levels: int) -> list[OrgUnit]:
    """The unit and its descendants down to `levels` below it, in path order (tree order)."""
    return list(
        (
            await db_session.scalars(
                select(OrgUnit)
                .where(in_subtree(root.path), OrgUnit.depth <= root.depth + levels)
                .order_by(OrgUnit.path)
            )
        ).all()
    )
