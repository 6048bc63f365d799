"""Org tree rules: unique codes, a parent that exists, no cycles when a unit moves."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.auth.principals import forget_scopes
from app.db import flush_mapping_conflicts
from app.errors import ProblemFieldError
from app.i18n import N_
from app.ids import new_id
from app.org_unit import repository, tree
from app.org_unit.errors import (
    OrgUnitCodeTaken,
    OrgUnitCycle,
    OrgUnitNotFound,
    OwnUnitImmovable,
    ParentNotFound,
    RootNotAllowed,
)
from app.org_unit.models import OrgUnit
from app.org_unit.schemas import (
    OrgUnitCreate,
    OrgUnitFilter,
    OrgUnitPage,
    OrgUnitRead,
    OrgUnitUpdate,
)
from app.pagination import PageParams

_CONFLICTS = {"uq_org_unit_code": OrgUnitCodeTaken()}


async def get_org_unit(db_session: AsyncSession, org_unit_id: uuid.UUID, actor: Actor) -> OrgUnit:
    unit = await repository.get(db_session, org_unit_id, actor)
    if unit is None:
        raise OrgUnitNotFound()
    return unit


async def _parent(db_session: AsyncSession, parent_id: uuid.UUID, actor: Actor) -> OrgUnit:
    parent = await repository.get(db_session, parent_id, actor)
    if parent is None:
        raise ParentNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/parent_id", detail=N_("no such org unit"), code="not_found"
                )
            ]
        )
    return parent


async def create_org_unit(
    db_session: AsyncSession, data: OrgUnitCreate, actor: Actor, *, active: bool = True
) -> OrgUnit:
    """A new unit under `data.parent_id` (active unless told otherwise: the HR sync may create
    one inactive)."""
    if data.parent_id is None and not actor.whole_tree:
        raise RootNotAllowed()
    if await repository.get_by_code(db_session, data.code) is not None:
        raise OrgUnitCodeTaken()
    parent = await _parent(db_session, data.parent_id, actor) if data.parent_id else None
    if parent is not None:
        # A move of the parent waits for this insert, or this insert sees the moved path.
        await repository.lock(db_session, parent, shared=True)
    unit_id = new_id()
    unit = OrgUnit(
        id=unit_id,
        code=data.code,
        name=data.name,
        kind=data.kind,
        parent_id=data.parent_id,
        path=tree.path_of(parent.path if parent else None, unit_id),
        depth=parent.depth + 1 if parent else 0,
        active=active,
    )
    db_session.add(unit)
    await flush_mapping_conflicts(db_session, _CONFLICTS)
    return unit


async def update_org_unit(
    db_session: AsyncSession, unit: OrgUnit, data: OrgUnitUpdate, actor: Actor
) -> OrgUnit:
    changes = data.model_dump(exclude_unset=True)
    if (
        "code" in changes
        and changes["code"] != unit.code
        and await repository.get_by_code(db_session, changes["code"]) is not None
    ):
        raise OrgUnitCodeTaken()
    if "parent_id" in changes and changes["parent_id"] != unit.parent_id:
        if unit.id == actor.org_unit_id:
            raise OwnUnitImmovable()
        await _move(db_session, unit, changes.pop("parent_id"), actor)
    else:
        changes.pop("parent_id", None)
    for field, value in changes.items():
        if value is not None:
            setattr(unit, field, value)
    await flush_mapping_conflicts(db_session, _CONFLICTS)
    return unit


async def _move(
    db_session: AsyncSession, unit: OrgUnit, parent_id: uuid.UUID | None, actor: Actor
) -> None:
    if parent_id is None and not actor.whole_tree:
        raise RootNotAllowed()
    # Moves are rare and rewrite paths across the tree: one at a time, each on fresh rows, so
    # two crossing moves cannot make a cycle.
    await repository.lock_tree(db_session)
    await repository.lock(db_session, unit)
    parent = await _parent(db_session, parent_id, actor) if parent_id else None
    if parent is not None:
        await repository.lock(db_session, parent)
    if parent is not None and parent.path.startswith(unit.path):
        raise OrgUnitCycle()
    old_path = unit.path
    new_path = tree.path_of(parent.path if parent else None, unit.id)
    new_depth = parent.depth + 1 if parent else 0
    await repository.move_subtree(db_session, old_path, new_path, new_depth - unit.depth)
    forget_scopes(db_session)  # actors of the subtree now act under another path
    unit.parent_id = parent_id
    unit.path = new_path
    unit.depth = new_depth


async def list_org_units(
    db_session: AsyncSession, actor: Actor, where: OrgUnitFilter, params: PageParams
) -> OrgUnitPage:
    """A page of the units the actor may see; a subtree (`within`) out of scope is 404."""
    within = await get_org_unit(db_session, where.within, actor) if where.within else None
    items, next_cursor = await repository.list_page(db_session, actor, where, within, params)
    return OrgUnitPage(
        items=[OrgUnitRead.model_validate(u) for u in items], next_cursor=next_cursor
    )
