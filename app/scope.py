"""What an actor may see: the org-subtree and own-record filters every repository applies.

One mechanism for lists, reads, updates, nested routes and reports: a query for an object outside
the actor's scope finds nothing, so the API answers 404 and reveals nothing about what exists.
"""

import uuid

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import QueryableAttribute

from app.actor import Actor
from app.cadre.models import Cadre
from app.enums import Role
from app.org_unit.models import OrgUnit
from app.org_unit.tree import in_subtree


def path_ids(path: str) -> list[uuid.UUID]:
    """The ids along a materialised path: the unit and all its ancestors."""
    return [uuid.UUID(part) for part in path.strip("/").split("/") if part]


def org_units(actor: Actor) -> ColumnElement[bool]:
    """org_admin: its subtree; cadre: its own unit and the units above it."""
    if actor.whole_tree:
        return true()
    if actor.org_path is None:
        return false()
    if actor.role == Role.org_admin:
        return in_subtree(actor.org_path)
    return OrgUnit.id.in_(path_ids(actor.org_path))


def cadres(actor: Actor) -> ColumnElement[bool]:
    if actor.whole_tree:
        return true()
    if actor.role == Role.cadre:
        return Cadre.id == actor.cadre_id if actor.cadre_id else false()
    if actor.org_path is None:
        return false()
    return Cadre.org_unit_id.in_(select(OrgUnit.id).where(in_subtree(actor.org_path)))


def cadre_ids(actor: Actor) -> Select[uuid.UUID]:
    return select(Cadre.id).where(cadres(actor))


def cadre_column_in_scope(
    column: QueryableAttribute[uuid.UUID], actor: Actor
) -> ColumnElement[bool]:
    """For tables keyed by cadre (study logs, assessments, enrollments)."""
    if actor.whole_tree:
        return true()
    if actor.role == Role.cadre:
        return column == actor.cadre_id if actor.cadre_id else false()
    return column.in_(cadre_ids(actor))


def sessions_visible(column: QueryableAttribute[uuid.UUID], actor: Actor) -> ColumnElement[bool]:
    """Sessions organised in the actor's subtree, or by a unit above it (a city class is open
    to the counties' cadres); `column` is the organiser's org unit id."""
    if actor.whole_tree:
        return true()
    if actor.org_path is None:
        return false()
    above = column.in_(path_ids(actor.org_path))
    if actor.role == Role.cadre:
        return above
    return or_(above, column.in_(select(OrgUnit.id).where(in_subtree(actor.org_path))))


def sessions_managed(column: QueryableAttribute[uuid.UUID], actor: Actor) -> ColumnElement[bool]:
    """Sessions the actor may change: those organised inside its subtree."""
    if actor.role == Role.admin:
        return true()
    if actor.role != Role.org_admin or actor.org_path is None:
        return false()
    return column.in_(select(OrgUnit.id).where(in_subtree(actor.org_path)))
