"""Annual assessments (年度考核): one per cadre and year, each with a frozen training snapshot."""

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import scope
from app.assessment.errors import AssessmentExists, AssessmentNotFound
from app.assessment.models import Assessment
from app.assessment.schemas import AssessmentCreate, AssessmentUpdate
from app.cadre import repository as cadres
from app.cadre.errors import ReferencedCadreNotFound
from app.cadre.models import Cadre
from app.db import flush_mapping_conflicts
from app.enums import AssessmentRating, StudyLogStatus
from app.errors import ProblemFieldError
from app.org_unit.models import OrgUnit
from app.org_unit.tree import subtree_ids
from app.schema_types import quantize
from app.security import Actor
from app.study_log.models import StudyLog

_CONFLICTS = {"uq_assessment_cadre_id_year": AssessmentExists()}


async def get_assessment(
    db_session: AsyncSession, assessment_id: uuid.UUID, actor: Actor
) -> Assessment:
    stmt = select(Assessment).where(
        Assessment.id == assessment_id, scope.cadre_column_in_scope(Assessment.cadre_id, actor)
    )
    found = (await db_session.scalars(stmt)).one_or_none()
    if found is None:
        raise AssessmentNotFound()
    return found


async def training_snapshot(db_session: AsyncSession, cadre: Cadre, year: int) -> dict[str, Any]:
    """Approved hours and days per kind from logs starting in `year`, as recorded."""
    rows = await db_session.execute(
        select(StudyLog.kind, func.sum(StudyLog.hours), func.sum(StudyLog.days), func.count())
        .where(
            StudyLog.cadre_id == cadre.id,
            StudyLog.status == StudyLogStatus.approved,
            StudyLog.start_date >= date(year, 1, 1),
            StudyLog.start_date <= date(year, 12, 31),
        )
        .group_by(StudyLog.kind)
        .order_by(StudyLog.kind)
    )
    by_kind = [
        {"kind": kind.value, "hours": str(quantize(h)), "days": str(quantize(d)), "logs": n}
        for kind, h, d, n in rows
    ]
    return {
        "year": year,
        "rank": cadre.rank.value,
        "recorded_hours": str(quantize(sum((Decimal(r["hours"]) for r in by_kind), Decimal(0)))),
        "by_kind": by_kind,
    }


async def create_assessment(
    db_session: AsyncSession, data: AssessmentCreate, actor: Actor
) -> Assessment:
    cadre = await cadres.get(db_session, data.cadre_id, actor)
    if cadre is None:
        raise ReferencedCadreNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/cadre_id", detail="no such cadre", code="not_found"
                )
            ]
        )
    existing = await db_session.scalar(
        select(Assessment.id).where(Assessment.cadre_id == cadre.id, Assessment.year == data.year)
    )
    if existing is not None:
        raise AssessmentExists(f"Assessment {existing} exists for {data.year}.")
    assessment = Assessment(
        **data.model_dump(),
        training_snapshot=await training_snapshot(db_session, cadre, data.year),
    )
    db_session.add(assessment)
    await flush_mapping_conflicts(db_session, _CONFLICTS)
    return assessment


async def update_assessment(
    db_session: AsyncSession, assessment: Assessment, data: AssessmentUpdate
) -> Assessment:
    changes = {
        k: v for k, v in data.model_dump(exclude_unset=True).items() if getattr(assessment, k) != v
    }
    changes = {k: v for k, v in changes.items() if v is not None or k == "comment"}
    if not changes:
        return assessment
    if "rating" in changes:
        # A new rating is a new decision: freeze the figures it is decided on.
        cadre = await cadres.get(db_session, assessment.cadre_id)
        assert cadre is not None
        assessment.training_snapshot = await training_snapshot(db_session, cadre, assessment.year)
    for field, value in changes.items():
        setattr(assessment, field, value)
    await db_session.flush()
    return assessment


def list_query(
    actor: Actor,
    *,
    cadre_id: uuid.UUID | None,
    within: OrgUnit | None,
    year: int | None,
    rating: AssessmentRating | None,
) -> Select[Assessment]:
    stmt = select(Assessment).where(scope.cadre_column_in_scope(Assessment.cadre_id, actor))
    if cadre_id is not None:
        stmt = stmt.where(Assessment.cadre_id == cadre_id)
    if within is not None:
        stmt = stmt.where(
            Assessment.cadre_id.in_(
                select(Cadre.id).where(Cadre.org_unit_id.in_(subtree_ids(within.path)))
            )
        )
    if year is not None:
        stmt = stmt.where(Assessment.year == year)
    if rating is not None:
        stmt = stmt.where(Assessment.rating == rating)
    return stmt
