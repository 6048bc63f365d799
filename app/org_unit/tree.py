"""The org tree's materialised paths: `/<root id>/<child id>/.../<unit id>/`."""

import uuid

from sqlalchemy import ColumnElement, Select, and_, select

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


def path_ids(path: str) -> list[uuid.UUID]:
    """The ids along a materialised path: the unit and all its ancestors."""
    return [uuid.UUID(part) for part in path.strip("/").split("/") if part]
