"""Per-cadre figures: the cadre's logs from the database, the policies in force, the engine."""

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import repository as cadres
from app.cadre.errors import CadreNotFound
from app.cadre.models import Cadre
from app.credit_policy import engine
from app.credit_policy.engine.common import add_years
from app.credit_policy.policy import Policy
from app.credit_policy.service import load_policies
from app.study_log.models import StudyLog


async def cadre_logs(
    db_session: AsyncSession, cadre_id: uuid.UUID, *, ending_from: date
) -> list[engine.LogRecord]:
    """Every log of the cadre that ends on or after `ending_from`, whatever its status: the
    engine counts approved ones and lists the others as ignored, to explain the figures."""
    # Only the columns the engine reads, as plain rows: no ORM identity map on a hot path.
    rows = await db_session.execute(
        select(
            StudyLog.id,
            StudyLog.kind,
            StudyLog.start_date,
            StudyLog.end_date,
            StudyLog.hours,
            StudyLog.days,
            StudyLog.status,
        ).where(StudyLog.cadre_id == cadre_id, StudyLog.end_date >= ending_from)
    )
    return [
        engine.LogRecord(
            id=str(log_id),
            kind=kind,
            start_date=start,
            end_date=end,
            hours=hours,
            days=days,
            status=status,
        )
        for log_id, kind, start, end, hours, days, status in rows
    ]


async def _scoped_cadre(db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor) -> Cadre:
    cadre = await cadres.get(db_session, cadre_id, actor)
    if cadre is None:
        raise CadreNotFound()
    return cadre


def _longest_window(policies: tuple[Policy, ...]) -> int:
    return max((p.five_year_years for p in policies), default=5)


async def credits(
    db_session: AsyncSession, cadre_id: uuid.UUID, year: int, actor: Actor
) -> engine.YearCredits:
    await _scoped_cadre(db_session, cadre_id, actor)
    policies = await load_policies(db_session)
    logs = await cadre_logs(db_session, cadre_id, ending_from=date(year, 1, 1))
    return engine.credits_view(logs, year, policies)


async def compliance(
    db_session: AsyncSession, cadre_id: uuid.UUID, as_of: date, actor: Actor
) -> engine.Compliance:
    cadre = await _scoped_cadre(db_session, cadre_id, actor)
    policies = await load_policies(db_session)
    # The window (as_of − N years, as_of] and the calendar year of as_of; later logs count for
    # met_until, so there is no upper bound.
    earliest = min(add_years(as_of, -_longest_window(policies)), date(as_of.year, 1, 1))
    logs = await cadre_logs(db_session, cadre_id, ending_from=earliest)
    return engine.compliance(logs, as_of, cadre.rank, cadre.promoted_on, policies)
