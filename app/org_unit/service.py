"""Org tree rules: unique codes, a parent that exists, no cycles when a unit moves."""

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import flush_mapping_conflicts
from app.enums import OrgUnitKind
from app.errors import ProblemFieldError
from app.ids import new_id
from app.org_unit import repository
from app.org_unit.errors import OrgUnitCodeTaken, OrgUnitCycle, OrgUnitNotFound, ParentNotFound
from app.org_unit.models import OrgUnit
from app.org_unit.schemas import OrgUnitCreate, OrgUnitUpdate

_CONFLICTS = {"uq_org_unit_code": OrgUnitCodeTaken()}


async def get_org_unit(db_session: AsyncSession, org_unit_id: uuid.UUID) -> OrgUnit:
    unit = await repository.get(db_session, org_unit_id)
    if unit is None:
        raise OrgUnitNotFound()
    return unit


async def _parent(db_session: AsyncSession, parent_id: uuid.UUID) -> OrgUnit:
    parent = await repository.get(db_session, parent_id)
    if parent is None:
        raise ParentNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/parent_id", detail="no such org unit", code="not_found"
                )
            ]
        )
    return parent


async def create_org_unit(db_session: AsyncSession, data: OrgUnitCreate) -> OrgUnit:
    if await repository.get_by_code(db_session, data.code) is not None:
        raise OrgUnitCodeTaken()
    parent = await _parent(db_session, data.parent_id) if data.parent_id else None
    unit_id = new_id()
    unit = OrgUnit(
        id=unit_id,
        code=data.code,
        name=data.name,
        kind=data.kind,
        parent_id=data.parent_id,
        path=repository.path_of(parent.path if parent else None, unit_id),
        depth=parent.depth + 1 if parent else 0,
        active=True,
    )
    db_session.add(unit)
    await flush_mapping_conflicts(db_session, _CONFLICTS)
    return unit


async def update_org_unit(db_session: AsyncSession, unit: OrgUnit, data: OrgUnitUpdate) -> OrgUnit:
    changes = data.model_dump(exclude_unset=True)
    if (
        "code" in changes
        and changes["code"] != unit.code
        and await repository.get_by_code(db_session, changes["code"]) is not None
    ):
        raise OrgUnitCodeTaken()
    if "parent_id" in changes and changes["parent_id"] != unit.parent_id:
        await _move(db_session, unit, changes.pop("parent_id"))
    else:
        changes.pop("parent_id", None)
    for field, value in changes.items():
        if value is not None:
            setattr(unit, field, value)
    await flush_mapping_conflicts(db_session, _CONFLICTS)
    return unit


async def _move(db_session: AsyncSession, unit: OrgUnit, parent_id: uuid.UUID | None) -> None:
    parent = await _parent(db_session, parent_id) if parent_id else None
    if parent is not None and parent.path.startswith(unit.path):
        raise OrgUnitCycle()
    old_path = unit.path
    new_path = repository.path_of(parent.path if parent else None, unit.id)
    new_depth = parent.depth + 1 if parent else 0
    await repository.move_subtree(db_session, old_path, new_path, new_depth - unit.depth)
    unit.parent_id = parent_id
    unit.path = new_path
    unit.depth = new_depth


def list_query(
    *,
    parent_id: uuid.UUID | None,
    within: OrgUnit | None,
    kind: OrgUnitKind | None,
    code: str | None,
    active: bool | None,
    q: str | None,
) -> Select[OrgUnit]:
    stmt = select(OrgUnit)
    if parent_id is not None:
        stmt = stmt.where(OrgUnit.parent_id == parent_id)
    if within is not None:
        stmt = stmt.where(repository.in_subtree(within.path))
    if kind is not None:
        stmt = stmt.where(OrgUnit.kind == kind)
    if code is not None:
        stmt = stmt.where(OrgUnit.code == code)
    if active is not None:
        stmt = stmt.where(OrgUnit.active == active)
    if q:
        stmt = stmt.where(OrgUnit.name.contains(q, autoescape=True))
    return stmt
