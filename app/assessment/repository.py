"""Every query of the assessment domain; scope is the cadre repository's statement."""

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.assessment.models import Assessment
from app.cadre import repository as cadres
from app.enums import AssessmentRating
from app.org_unit.models import OrgUnit


async def get(
    db_session: AsyncSession, assessment_id: uuid.UUID, actor: Actor
) -> Assessment | None:
    """The assessment, if it exists and its cadre is one the actor may see."""
    stmt = select(Assessment).where(
        Assessment.id == assessment_id, cadres.of_readable_cadre(Assessment.cadre_id, actor)
    )
    return (await db_session.scalars(stmt)).one_or_none()


async def id_of(db_session: AsyncSession, cadre_id: uuid.UUID, year: int) -> uuid.UUID | None:
    """The id of the cadre's assessment for the year, if there is one."""
    return await db_session.scalar(
        select(Assessment.id).where(Assessment.cadre_id == cadre_id, Assessment.year == year)
    )


def list_query(
    actor: Actor,
    *,
    cadre_id: uuid.UUID | None,
    within: OrgUnit | None,
    year: int | None,
    rating: AssessmentRating | None,
) -> Select[Assessment]:
    stmt = select(Assessment).where(cadres.of_readable_cadre(Assessment.cadre_id, actor))
    if cadre_id is not None:
        stmt = stmt.where(Assessment.cadre_id == cadre_id)
    if within is not None:
        stmt = stmt.where(Assessment.cadre_id.in_(cadres.ids_in_subtree(within.path)))
    if year is not None:
        stmt = stmt.where(Assessment.year == year)
    if rating is not None:
        stmt = stmt.where(Assessment.rating == rating)
    return stmt


async def of_cadre(db_session: AsyncSession, cadre_id: uuid.UUID) -> list[Assessment]:
    """Every assessment of the cadre, by year (the archive)."""
    stmt = select(Assessment).where(Assessment.cadre_id == cadre_id).order_by(Assessment.year)
    return list((await db_session.scalars(stmt)).all())
