"""Queries of the org tree. A subtree is one range scan on the materialised `path`."""

import uuid

from sqlalchemy import ColumnElement, Select, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.org_unit.models import OrgUnit


def path_of(parent_path: str | None, org_unit_id: uuid.UUID) -> str:
    return f"{parent_path or '/'}{org_unit_id.hex}/"


def in_subtree(path: str) -> ColumnElement[bool]:
    """`OrgUnit.path` lies in the subtree rooted at the unit whose path is `path`.

    Paths end with "/" and contain only hex digits and "/", so the subtree is the range
    [path, path[:-1] + "0") under collation "C": a plain B-tree range scan, plannable with a
    bound parameter (a LIKE prefix is not, once asyncpg's prepared statement goes generic).
    """
    return and_(OrgUnit.path >= path, OrgUnit.path < path[:-1] + "0")


def subtree_ids(path: str) -> Select[uuid.UUID]:
    return select(OrgUnit.id).where(in_subtree(path))


async def get(db_session: AsyncSession, org_unit_id: uuid.UUID) -> OrgUnit | None:
    return await db_session.get(OrgUnit, org_unit_id)


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
