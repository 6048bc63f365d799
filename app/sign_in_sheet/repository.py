"""The sheet's one query: the trainees of a session with their units. A report: it SELECTs from
the tables of enrollment, cadre and org_unit, and writes none of them."""

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cadre.models import Cadre
from app.enrollment.models import Enrollment
from app.enums import ACTIVE_ENROLLMENT_STATUSES, EnrollmentStatus
from app.org_unit.models import OrgUnit

# Who is on the sheet: whoever holds a place, and, once the session is closed, whoever took
# part (completed or dropped out). A withdrawn enrollment is not on it.
ON_THE_SHEET = ACTIVE_ENROLLMENT_STATUSES | {
    EnrollmentStatus.completed,
    EnrollmentStatus.dropped_out,
}


@dataclass(frozen=True)
class Trainee:
    enrollment_id: uuid.UUID
    name: str
    unit: str


async def trainees(db_session: AsyncSession, training_session_id: uuid.UUID) -> list[Trainee]:
    """The session's trainees, unit by unit (in the order of the org tree), then by name."""
    rows = await db_session.execute(
        select(Enrollment.id, Cadre.name, OrgUnit.name)
        .join(Cadre, Cadre.id == Enrollment.cadre_id)
        .join(OrgUnit, OrgUnit.id == Cadre.org_unit_id)
        .where(
            Enrollment.training_session_id == training_session_id,
            Enrollment.status.in_(ON_THE_SHEET),
        )
        .order_by(OrgUnit.path, Cadre.name, Cadre.id)
    )
    return [Trainee(enrollment_id, name, unit) for enrollment_id, name, unit in rows.all()]


async def unit_name(db_session: AsyncSession, org_unit_id: uuid.UUID) -> str:
    name = await db_session.scalar(select(OrgUnit.name).where(OrgUnit.id == org_unit_id))
    return name or ""
