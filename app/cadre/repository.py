import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import scope
from app.actor import Actor
from app.cadre.models import Cadre
from app.enums import CadreStatus, Rank
from app.org_unit.models import OrgUnit
from app.org_unit.tree import subtree_ids
from app.personal_data import cipher


async def get(
    db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor | None = None
) -> Cadre | None:
    """The cadre, if it exists and (given an actor) lies in the actor's scope."""
    if actor is None:
        return await db_session.get(Cadre, cadre_id)
    stmt = select(Cadre).where(Cadre.id == cadre_id, scope.cadres(actor))
    return (await db_session.scalars(stmt)).one_or_none()


async def get_by_hr_id(
    db_session: AsyncSession, hr_id: str, actor: Actor | None = None, *, for_update: bool = False
) -> Cadre | None:
    stmt = select(Cadre).where(Cadre.hr_id == hr_id)
    if actor is not None:
        stmt = stmt.where(scope.cadres(actor))
    if for_update:
        stmt = stmt.with_for_update()
    return (await db_session.scalars(stmt)).one_or_none()


async def get_by_id_number(db_session: AsyncSession, id_number: str) -> Cadre | None:
    stmt = select(Cadre).where(Cadre.id_number_hash == cipher().lookup_hash(id_number))
    return (await db_session.scalars(stmt)).one_or_none()


def list_query(
    actor: Actor,
    *,
    within: OrgUnit | None,
    rank: Rank | None,
    status: CadreStatus | None,
    hr_id: str | None,
    id_number: str | None,
    q: str | None,
) -> Select[Cadre]:
    stmt = select(Cadre).where(scope.cadres(actor))
    if within is not None:
        stmt = stmt.where(Cadre.org_unit_id.in_(subtree_ids(within.path)))
    if rank is not None:
        stmt = stmt.where(Cadre.rank == rank)
    if status is not None:
        stmt = stmt.where(Cadre.status == status)
    if hr_id is not None:
        stmt = stmt.where(Cadre.hr_id == hr_id)
    if id_number is not None:
        stmt = stmt.where(Cadre.id_number_hash == cipher().lookup_hash(id_number))
    if q:
        stmt = stmt.where(Cadre.name.startswith(q, autoescape=True))
    return stmt
