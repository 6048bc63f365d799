"""Queries of the org tree. A subtree is one range scan on the materialised `path`."""

import uuid
from collections.abc import Collection

from sqlalchemy import ColumnElement, false, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.db import any_of
from app.enums import Role
from app.org_unit.models import OrgUnit
from app.org_unit.schemas import OrgUnitFilter
from app.org_unit.tree import in_subtree, path_ids
from app.pagination import PageParams, paginate

TREE_LOCK = 7_202_302  # pg_advisory_xact_lock key for moves in the org tree


async def get(
    db_session: AsyncSession, org_unit_id: uuid.UUID, actor: Actor | None = None
) -> OrgUnit | None:
    """The unit, if it exists and (given an actor) lies in the actor's scope."""
    if actor is None:
        return await db_session.get(OrgUnit, org_unit_id)
    stmt = select(OrgUnit).where(OrgUnit.id == org_unit_id, readable(actor))
    return (await db_session.scalars(stmt)).one_or_none()


async def get_by_code(
    db_session: AsyncSession, code: str, actor: Actor | None = None
) -> OrgUnit | None:
    """The unit with this code, if it exists and (given an actor) lies in the actor's scope."""
    stmt = select(OrgUnit).where(OrgUnit.code == code)
    if actor is not None:
        stmt = stmt.where(readable(actor))
    return (await db_session.scalars(stmt)).one_or_none()


async def lock(db_session: AsyncSession, unit: OrgUnit, *, shared: bool = False) -> None:
    """Reload the unit's row under a row lock (FOR SHARE when `shared`, else FOR UPDATE)."""
    await db_session.refresh(unit, with_for_update={"read": True} if shared else True)


async def lock_tree(db_session: AsyncSession) -> None:
    """The transaction's lock on moves in the tree: one move at a time."""
    await db_session.execute(select(func.pg_advisory_xact_lock(TREE_LOCK)))


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


async def list_page(
    db_session: AsyncSession,
    actor: Actor,
    where: OrgUnitFilter,
    within: OrgUnit | None,
    params: PageParams,
) -> tuple[list[OrgUnit], str | None]:
    """A page of the readable units matching `where` (in `within`'s subtree, when given),
    in creation order."""
    stmt = select(OrgUnit).where(readable(actor))
    if where.parent_id is not None:
        stmt = stmt.where(OrgUnit.parent_id == where.parent_id)
    if within is not None:
        stmt = stmt.where(in_subtree(within.path))
    if where.kind is not None:
        stmt = stmt.where(OrgUnit.kind == where.kind)
    if where.code is not None:
        stmt = stmt.where(OrgUnit.code == where.code)
    if where.active is not None:
        stmt = stmt.where(OrgUnit.active == where.active)
    if where.q:
        stmt = stmt.where(OrgUnit.name.contains(where.q, autoescape=True))
    return await paginate(db_session, stmt, OrgUnit.id, params)


# The HR sync's reads: a request's rows at once, never one query a row.


async def ids_by_code(
    db_session: AsyncSession, codes: Collection[str], actor: Actor
) -> dict[str, uuid.UUID]:
    """The ids of the units with these codes that the actor may see."""
    rows = await db_session.execute(
        select(OrgUnit.code, OrgUnit.id).where(any_of(OrgUnit.code, codes), readable(actor))
    )
    return {row.code: row.id for row in rows}


async def active_below(
    db_session: AsyncSession, root: OrgUnit
) -> list[tuple[uuid.UUID, uuid.UUID | None, str]]:
    """(id, parent_id, code) of the active units below `root`, deepest first."""
    rows = await db_session.execute(
        select(OrgUnit.id, OrgUnit.parent_id, OrgUnit.code)
        .where(in_subtree(root.path), OrgUnit.id != root.id, OrgUnit.active)
        .order_by(OrgUnit.depth.desc(), OrgUnit.code)
    )
    return [(unit_id, parent_id, code) for unit_id, parent_id, code in rows]


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
