import uuid
from collections.abc import Collection

from sqlalchemy import ColumnElement, RowMapping, Select, false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from app.actor import Actor
from app.cadre.models import Cadre
from app.cadre.schemas import CadreFilter
from app.db import any_of
from app.enums import CadreStatus, Role
from app.org_unit.models import OrgUnit
from app.org_unit.tree import in_subtree, subtree_ids
from app.pagination import PageParams, paginate
from app.personal_data import cipher


async def get(
    db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor | None = None
) -> Cadre | None:
    """The cadre, if it exists and (given an actor) lies in the actor's scope."""
    if actor is None:
        return await db_session.get(Cadre, cadre_id)
    stmt = select(Cadre).where(Cadre.id == cadre_id, readable(actor))
    return (await db_session.scalars(stmt)).one_or_none()


async def read_row(
    db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor
) -> RowMapping | None:
    """The cadre's columns, if it lies in the actor's scope: a Core read, no ORM instance."""
    stmt = select(Cadre.__table__).where(Cadre.id == cadre_id, readable(actor))
    return (await db_session.execute(stmt)).mappings().one_or_none()


async def get_by_hr_id(
    db_session: AsyncSession, hr_id: str, actor: Actor | None = None, *, for_update: bool = False
) -> Cadre | None:
    stmt = select(Cadre).where(Cadre.hr_id == hr_id)
    if actor is not None:
        stmt = stmt.where(readable(actor))
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


async def get_by_id_number(db_session: AsyncSession, id_number: str) -> Cadre | None:
    stmt = select(Cadre).where(Cadre.id_number_hash == cipher().lookup_hash(id_number))
    return (await db_session.scalars(stmt)).one_or_none()


async def lock_hr_id(db_session: AsyncSession, hr_id: str) -> None:
    """The transaction's lock on an HR id, taken before it is looked up to be created."""
    await db_session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended("cadre.hr_id:" + hr_id, 0)))
    )


async def list_page(
    db_session: AsyncSession,
    actor: Actor,
    where: CadreFilter,
    within: OrgUnit | None,
    params: PageParams,
) -> tuple[list[Cadre], str | None]:
    """A page of the readable cadres matching `where` (of `within`'s subtree, when given), in
    creation order."""
    stmt = select(Cadre).where(readable(actor))
    if within is not None:
        stmt = stmt.where(Cadre.org_unit_id.in_(subtree_ids(within.path)))
    if where.rank is not None:
        stmt = stmt.where(Cadre.rank == where.rank)
    if where.status is not None:
        stmt = stmt.where(Cadre.status == where.status)
    if where.hr_id is not None:
        stmt = stmt.where(Cadre.hr_id == where.hr_id)
    if where.id_number is not None:
        stmt = stmt.where(Cadre.id_number_hash == cipher().lookup_hash(where.id_number))
    if where.q:
        stmt = stmt.where(Cadre.name.startswith(where.q, autoescape=True))
    return await paginate(db_session, stmt, Cadre.id, params)


# The bulk sync's reads: a request's rows at once, never one query a row.


async def by_hr_ids(
    db_session: AsyncSession, hr_ids: Collection[str], *, for_update: bool = False
) -> dict[str, Cadre]:
    """The cadres with these HR ids; `for_update`: locked until the transaction ends, so that
    a write planned from them overwrites no concurrent change. The lock is FOR NO KEY UPDATE,
    the one an UPDATE takes anyway: it does not block the FOR KEY SHARE of a foreign-key check,
    so study logs, enrollments and assessments of these cadres are written meanwhile. Taken in
    id order, so that two syncs over the same cadres queue rather than cross."""
    stmt = select(Cadre).where(any_of(Cadre.hr_id, hr_ids))
    if for_update:
        stmt = stmt.order_by(Cadre.id).with_for_update(key_share=True)
    return {c.hr_id: c for c in await db_session.scalars(stmt)}


async def readable_ids_by_hr_id(
    db_session: AsyncSession, hr_ids: Collection[str], actor: Actor
) -> dict[str, uuid.UUID]:
    """The ids of the cadres with these HR ids that the actor may see."""
    rows = await db_session.execute(
        select(Cadre.hr_id, Cadre.id).where(any_of(Cadre.hr_id, hr_ids), readable(actor))
    )
    return {row.hr_id: row.id for row in rows}


async def in_scope(
    db_session: AsyncSession, cadre_ids: Collection[uuid.UUID], actor: Actor
) -> set[uuid.UUID]:
    """Those of the cadres the actor may see."""
    stmt = select(Cadre.id).where(any_of(Cadre.id, cadre_ids), readable(actor))
    return set((await db_session.scalars(stmt)).all())


async def hr_ids_by_id_number_hash(
    db_session: AsyncSession, hashes: Collection[bytes]
) -> dict[bytes, str]:
    """Who holds each of these ID numbers (by their lookup hash)."""
    stmt = select(Cadre.id_number_hash, Cadre.hr_id).where(any_of(Cadre.id_number_hash, hashes))
    owners: dict[bytes, str] = {}
    for number_hash, hr_id in await db_session.execute(stmt):
        owners[number_hash] = hr_id
    return owners


async def active_in_subtree(
    db_session: AsyncSession, path: str
) -> list[tuple[uuid.UUID, str, str]]:
    """(id, hr_id, unit code) of the active cadres of a unit's whole subtree."""
    stmt = (
        select(Cadre.id, Cadre.hr_id, OrgUnit.code)
        .join(OrgUnit, OrgUnit.id == Cadre.org_unit_id)
        .where(in_subtree(path), Cadre.status == CadreStatus.active)
    )
    return [(cadre_id, hr_id, code) for cadre_id, hr_id, code in (await db_session.execute(stmt))]


async def active_counts_by_unit(db_session: AsyncSession, path: str) -> dict[uuid.UUID, int]:
    """The number of active cadres of each unit of a subtree that has any."""
    stmt = (
        select(Cadre.org_unit_id, func.count().label("active"))
        .where(Cadre.org_unit_id.in_(subtree_ids(path)), Cadre.status == CadreStatus.active)
        .group_by(Cadre.org_unit_id)
    )
    return {row.org_unit_id: row.active for row in await db_session.execute(stmt)}


def readable(actor: Actor) -> ColumnElement[bool]:
    """The cadres an actor may see: all for the whole-tree roles, an org_admin's subtree's, a
    cadre's own record. A query for anything else finds nothing, so the API answers 404."""
    if actor.whole_tree:
        return true()
    if actor.role == Role.cadre:
        return Cadre.id == actor.cadre_id if actor.cadre_id else false()
    if actor.org_path is None:
        return false()
    return Cadre.org_unit_id.in_(subtree_ids(actor.org_path))


async def is_readable(db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor) -> bool:
    """Whether the cadre exists and the actor may see it."""
    found = await db_session.scalar(select(Cadre.id).where(Cadre.id == cadre_id, readable(actor)))
    return found is not None


def readable_ids(actor: Actor) -> Select[uuid.UUID]:
    return select(Cadre.id).where(readable(actor))


def of_readable_cadre(column: QueryableAttribute[uuid.UUID], actor: Actor) -> ColumnElement[bool]:
    """For the tables keyed by cadre (study logs, assessments, enrollments): the rows of the
    cadres the actor may see."""
    if actor.whole_tree:
        return true()
    if actor.role == Role.cadre:
        return column == actor.cadre_id if actor.cadre_id else false()
    return column.in_(readable_ids(actor))


def ids_in_subtree(path: str) -> Select[uuid.UUID]:
    """The ids of the cadres whose unit lies in the subtree at `path` (a list's `org_unit_id`
    filter; scope is applied on its own)."""
    return select(Cadre.id).where(Cadre.org_unit_id.in_(subtree_ids(path)))


async def by_ids(
    db_session: AsyncSession, cadre_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Cadre]:
    """The cadres with these ids, by id (no scope: for ids a scoped query found)."""
    stmt = select(Cadre).where(any_of(Cadre.id, cadre_ids))
    return {c.id: c for c in await db_session.scalars(stmt)}


async def readable_ids_by_id_number(
    db_session: AsyncSession, id_numbers: Collection[str], actor: Actor
) -> dict[str, uuid.UUID]:
    """The ids of the cadres holding these (normalised) ID numbers that the actor may see, by
    number: the online-records import matches learners by it (admin, hr_system only)."""
    by_hash = {cipher().lookup_hash(n): n for n in id_numbers}
    stmt = select(Cadre.id_number_hash, Cadre.id).where(
        any_of(Cadre.id_number_hash, list(by_hash)), readable(actor)
    )
    return {by_hash[row.id_number_hash]: row.id for row in await db_session.execute(stmt)}
