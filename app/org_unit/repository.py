"""Queries of the org tree. A subtree is one range scan on the materialised `path`."""

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import scope
from app.actor import Actor
from app.org_unit.models import OrgUnit
from app.org_unit.tree import in_subtree


async def get(
    db_session: AsyncSession, org_unit_id: uuid.UUID, actor: Actor | None = None
) -> OrgUnit | None:
    """The unit, if it exists and (given an actor) lies in the actor's scope."""
    if actor is None:
        return await db_session.get(OrgUnit, org_unit_id)
    stmt = select(OrgUnit).where(OrgUnit.id == org_unit_id, scope.org_units(actor))
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
