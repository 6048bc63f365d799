"""Every query of the scorecard: its own tables, and the two indicators the compliance report
does not count (evaluation participation, plan fulfilment), summed per child unit in
PostgreSQL (docs/rules.md, "Unit scorecard"). Org paths are fixed-width (`/<32 hex>/` per
level, app.org_unit.tree), so a unit's child in the report is the first `len(root) + 33`
characters of its path."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.compliance.repository import subtree_bounds
from app.ids import new_id
from app.org_unit.models import OrgUnit
from app.scorecard.models import UnitScorecardSnapshot, UnitTarget

CHILD_SEGMENT = 33  # 32 hex digits and "/"

# Completed enrollments of the cadres of each child's subtree in the year's closed sessions
# with an evaluation attached, and of them those that answered it.
_EVALUATION_SQL = """
SELECT left(u.path, :child_len) AS child_path,
       COUNT(a.id) AS answered,
       COUNT(*) AS completed
FROM enrollment e
JOIN training_session s ON s.id = e.training_session_id
JOIN session_evaluation v ON v.training_session_id = s.id
JOIN cadre c ON c.id = e.cadre_id
JOIN org_unit u ON u.id = c.org_unit_id
LEFT JOIN evaluation_answered a ON a.enrollment_id = e.id
WHERE s.status = 'closed' AND s.end_date BETWEEN :year_start AND :year_end
  AND e.status = 'completed'
  AND u.path >= :lo AND u.path < :hi AND length(u.path) > :root_len
GROUP BY 1
"""

# The planned classes of each child's own approved plan for the year, and of them those held by
# at least one closed session.
_PLAN_SQL = """
SELECT p.org_unit_id,
       COUNT(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM training_session s
           WHERE s.plan_item_id = i.id AND s.status = 'closed')) AS held,
       COUNT(*) AS planned
FROM training_plan p
JOIN training_plan_item i ON i.training_plan_id = p.id
WHERE p.year = :year AND p.status = 'approved' AND p.org_unit_id = ANY(:units)
GROUP BY p.org_unit_id
"""


async def children(db_session: AsyncSession, root: OrgUnit) -> list[OrgUnit]:
    """The active direct children of the unit, by code."""
    stmt = (
        select(OrgUnit)
        .where(OrgUnit.parent_id == root.id, OrgUnit.active.is_(True))
        .order_by(OrgUnit.code)
    )
    return list((await db_session.scalars(stmt)).all())


async def evaluation_participation(
    db_session: AsyncSession, root_path: str, year: int
) -> dict[str, tuple[int, int]]:
    """child path → (answered, completed)."""
    lo, hi = subtree_bounds(root_path)
    rows = await db_session.execute(
        text(_EVALUATION_SQL),
        {
            "child_len": len(root_path) + CHILD_SEGMENT,
            "root_len": len(root_path),
            "lo": lo,
            "hi": hi,
            "year_start": date(year, 1, 1),
            "year_end": date(year, 12, 31),
        },
    )
    return {path: (int(answered), int(completed)) for path, answered, completed in rows}


async def plan_fulfilment(
    db_session: AsyncSession, unit_ids: list[uuid.UUID], year: int
) -> dict[uuid.UUID, tuple[int, int]]:
    """unit id → (held items, planned items) of its approved plan for the year."""
    rows = await db_session.execute(text(_PLAN_SQL), {"year": year, "units": unit_ids})
    return {unit_id: (int(held), int(planned)) for unit_id, held, planned in rows}


async def get_target(
    db_session: AsyncSession, org_unit_id: uuid.UUID, year: int
) -> UnitTarget | None:
    stmt = select(UnitTarget).where(UnitTarget.org_unit_id == org_unit_id, UnitTarget.year == year)
    return (await db_session.scalars(stmt)).one_or_none()


async def add(db_session: AsyncSession, row: UnitTarget | UnitScorecardSnapshot) -> None:
    db_session.add(row)
    await db_session.flush()


async def get_snapshot(
    db_session: AsyncSession, org_unit_id: uuid.UUID, year: int
) -> UnitScorecardSnapshot | None:
    stmt = select(UnitScorecardSnapshot).where(
        UnitScorecardSnapshot.org_unit_id == org_unit_id, UnitScorecardSnapshot.year == year
    )
    return (await db_session.scalars(stmt)).one_or_none()


async def units_with_children(db_session: AsyncSession) -> list[OrgUnit]:
    """Every active unit that has an active child unit, in path order (the CLI's freeze)."""
    child = OrgUnit.__table__.alias("child")
    stmt = (
        select(OrgUnit)
        .where(
            OrgUnit.active.is_(True),
            select(child.c.id)
            .where(child.c.parent_id == OrgUnit.id, child.c.active.is_(True))
            .exists(),
        )
        .order_by(OrgUnit.path)
    )
    return list((await db_session.scalars(stmt)).all())


async def store_snapshot(
    db_session: AsyncSession,
    org_unit_id: uuid.UUID,
    year: int,
    frozen_at: datetime,
    scorecard: dict[str, Any],
) -> UnitScorecardSnapshot:
    """Store the year's snapshot unless a concurrent first read stored one already; either
    way, the stored one comes back (the first one wins, so every reader sees the same)."""
    await db_session.execute(
        insert(UnitScorecardSnapshot)
        .values(
            id=new_id(),
            version=1,
            org_unit_id=org_unit_id,
            year=year,
            frozen_at=frozen_at,
            scorecard=scorecard,
        )
        .on_conflict_do_nothing(index_elements=["org_unit_id", "year"])
    )
    stored = await get_snapshot(db_session, org_unit_id, year)
    assert stored is not None
    return stored
