"""Annual assessments (年度考核): one per cadre and year, each with a frozen training snapshot."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.assessment import repository
from app.assessment.errors import (
    AssessmentExists,
    AssessmentNotFound,
    OverrideForbidden,
    OverrideNotNeeded,
    TrainingRequirementUnmet,
)
from app.assessment.models import Assessment
from app.assessment.schemas import AssessmentCreate, AssessmentUpdate
from app.cadre import repository as cadres
from app.cadre.models import Cadre
from app.cadre.service import referenced_cadre
from app.compliance.service import cadre_logs
from app.credit_policy import engine
from app.credit_policy.engine.common import add_years
from app.credit_policy.service import load_policies
from app.db import flush_mapping_conflicts
from app.enum_labels import term
from app.enums import AssessmentRating, Role
from app.i18n import _
from app.org_unit import service as org_unit_service
from app.pagination import PageParams, paginate

_CONFLICTS = {"uq_assessment_cadre_id_year": AssessmentExists()}


async def get_assessment(
    db_session: AsyncSession, assessment_id: uuid.UUID, actor: Actor
) -> Assessment:
    found = await repository.get(db_session, assessment_id, actor)
    if found is None:
        raise AssessmentNotFound()
    return found


async def decide(
    db_session: AsyncSession,
    cadre: Cadre,
    year: int,
    rating: AssessmentRating,
    *,
    override_reason: str | None,
    actor: Actor,
) -> dict[str, Any]:
    """docs/rules.md rule 9: the training figures at the end of `year`, frozen as the snapshot.

    An `excellent` rating whose requirement is not met needs an `admin` and an override reason:
    an `org_admin` gets `OverrideForbidden`, an admin without a reason `TrainingRequirementUnmet`.
    A reason where nothing is overridden is refused (`OverrideNotNeeded`): `override_reason`
    set means, always, that the training condition was overridden.
    """
    policies = await load_policies(db_session)
    earliest = add_years(date(year, 12, 31), -max((p.five_year_years for p in policies), default=5))
    logs = await cadre_logs(db_session, cadre.id, ending_from=earliest)
    allowed, snapshot = engine.excellent_allowed(
        logs, year, cadre.rank, cadre.promoted_on, policies
    )
    overriding = rating == AssessmentRating.excellent and not allowed
    if overriding and actor.role is not Role.admin:
        raise OverrideForbidden(
            _("{reason}; only an admin may override it.").format(reason=snapshot["reason"])
        )
    if overriding and override_reason is None:
        raise TrainingRequirementUnmet(
            _("{reason}; an admin may record it with an override_reason.").format(
                reason=snapshot["reason"]
            )
        )
    if not overriding and override_reason is not None:
        raise OverrideNotNeeded(
            _("Nothing to override: the rating is {rating}, not excellent.").format(
                rating=term(rating)
            )
            if rating != AssessmentRating.excellent
            else _("Nothing to override: {reason}.").format(reason=snapshot["reason"])
        )
    return {**snapshot, "override_reason": override_reason}


async def create_assessment(
    db_session: AsyncSession, data: AssessmentCreate, actor: Actor
) -> Assessment:
    cadre = await referenced_cadre(db_session, data.cadre_id, actor)
    existing = await repository.id_of(db_session, cadre.id, data.year)
    if existing is not None:
        raise AssessmentExists(
            _("Assessment {id} exists for {year}.").format(id=existing, year=data.year)
        )
    snapshot = await decide(
        db_session,
        cadre,
        data.year,
        data.rating,
        override_reason=data.override_reason,
        actor=actor,
    )
    assessment = Assessment(**data.model_dump(), training_snapshot=snapshot)
    db_session.add(assessment)
    await flush_mapping_conflicts(db_session, _CONFLICTS)
    return assessment


async def update_assessment(
    db_session: AsyncSession, assessment: Assessment, data: AssessmentUpdate, actor: Actor
) -> Assessment:
    changes = {
        k: v for k, v in data.model_dump(exclude_unset=True).items() if getattr(assessment, k) != v
    }
    changes = {k: v for k, v in changes.items() if v is not None or k == "comment"}
    if not changes:
        return assessment
    if "rating" in changes or "override_reason" in changes:
        # A new rating (or a new reason for it) is a new decision: freeze the figures it is
        # decided on. A reason belongs to the decision it was given for, so it is not carried.
        cadre = await cadres.get(db_session, assessment.cadre_id)
        assert cadre is not None
        reason = data.override_reason
        assessment.training_snapshot = await decide(
            db_session,
            cadre,
            assessment.year,
            changes.get("rating", assessment.rating),
            override_reason=reason,
            actor=actor,
        )
        changes["override_reason"] = reason
    for field, value in changes.items():
        setattr(assessment, field, value)
    await db_session.flush()
    return assessment


async def list_assessments(
    db_session: AsyncSession,
    actor: Actor,
    page: PageParams,
    *,
    cadre_id: uuid.UUID | None,
    org_unit_id: uuid.UUID | None,
    year: int | None,
    rating: AssessmentRating | None,
) -> tuple[list[Assessment], str | None]:
    """A page of the assessments the actor may see, filtered; 404 when `org_unit_id` is out of
    scope."""
    within = (
        await org_unit_service.get_org_unit(db_session, org_unit_id, actor) if org_unit_id else None
    )
    stmt = repository.list_query(actor, cadre_id=cadre_id, within=within, year=year, rating=rating)
    return await paginate(db_session, stmt, Assessment.id, page)
